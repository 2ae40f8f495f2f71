"""A stateful simulator of the Linode API v4 endpoints the collection calls.

It owns the lab cluster's Nodes: each LKE node is an "instance" here and a kwok-managed
Node in the lab's real Kubernetes API server (see nodes.py). Not part of the collection.
"""
