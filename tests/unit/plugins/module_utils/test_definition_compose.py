# -*- coding: utf-8 -*-
"""A MeshService definition and task-level options compose as kubernetes.core's definition and namespace do."""

from __future__ import annotations

import pytest

from ansible_collections.meshops.istio_integrity.plugins.module_utils.meshservice.spec import (
    SpecError, compose, from_definition, validate)

DEFINITION = {"apiVersion": "mesh.istio.operator/v1alpha1", "kind": "MeshService", "metadata": {"name": "reviews"},
              "spec": {"hosts": ["reviews.example.com"], "ports": [{"port": 9080, "name": "http"}]}}


def composed(task, definition=None):
    return validate(compose(from_definition(definition or DEFINITION, "definition"), task, "definition"), "definition")


def test_task_options_fill_in_what_the_definition_leaves_out():
    params = composed({"namespace": "shop", "gateway": {"create": True}})
    assert params["namespace"] == "shop"
    assert params["gateway"]["create"] is True and params["hosts"] == ["reviews.example.com"]


def test_without_a_namespace_anywhere_it_is_default():
    assert composed({})["namespace"] == "default"


def test_the_same_setting_both_ways_must_agree():
    definition = dict(DEFINITION, metadata={"name": "reviews", "namespace": "shop"})
    assert composed({"namespace": "shop"}, definition)["namespace"] == "shop"
    with pytest.raises(SpecError, match=r"definition: namespace is 'shop' in the definition and 'web' as a task "
                                        r"option: give it once"):
        composed({"namespace": "web"}, definition)
    gated = dict(DEFINITION, spec=dict(DEFINITION["spec"], gateway={"name": "edge", "namespace": "istio-system"}))
    assert composed({"gateway": {"name": "edge", "create": False}}, gated)["gateway"]["name"] == "edge"
    with pytest.raises(SpecError, match="gateway is"):
        composed({"gateway": {"name": "other"}}, gated)


@pytest.mark.parametrize("written, expected", [
    ("istio-system/edge", {"name": "edge", "namespace": "istio-system"}),
    ("edge", {"name": "edge", "namespace": None}),
    ({"name": "edge", "namespace": "istio-system"}, {"name": "edge", "namespace": "istio-system"}),
])
def test_the_gateway_as_the_seed_writes_it(written, expected):
    definition = dict(DEFINITION, spec=dict(DEFINITION["spec"], gateway=written))
    gateway = composed({}, definition)["gateway"]
    assert {key: gateway[key] for key in expected} == expected
