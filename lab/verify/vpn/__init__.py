"""The vpn group of `lab verify`: site-to-site VPN gateways."""
