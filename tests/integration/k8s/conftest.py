"""Fixtures for the lab Kubernetes tests (see k8slab.py for the sandbox)."""

import uuid

import pytest

from k8slab import Sandbox


@pytest.fixture(scope="module")
def sandbox(k8s_client):
    box = Sandbox(k8s_client, uuid.uuid4().hex[:6])
    box.create()
    yield box
    box.cleanup()
