"""The network lab: the browser and the app's media servers in network namespaces of their own, with
real faults (nftables) on the link between them. See docs/network-lab.md."""
