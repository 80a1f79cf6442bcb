"""Lab hosts: network namespaces with their own sshd, on one machine (root)."""
