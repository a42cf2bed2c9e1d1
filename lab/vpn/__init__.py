"""Site-to-site VPN gateways of the embedded lab: wireguard-go and strongSwan
(kernel-libipsec) ends, their configs and routes, and the pair monitor."""
