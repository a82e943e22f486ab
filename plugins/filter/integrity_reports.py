# -*- coding: utf-8 -*-
# Copyright (c) meshops.istio_integrity contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters that turn the istio_integrity facts into CI reports (the report role writes them)."""

from __future__ import annotations

from typing import Any, Callable, Dict

from ansible_collections.meshops.istio_integrity.plugins.module_utils.reports import formats, html


class FilterModule:
    """CI report formats."""

    def filters(self) -> Dict[str, Callable[..., Any]]:
        return {
            "to_sarif": formats.to_sarif,
            "to_github_annotations": formats.to_github_annotations,
            "to_gitlab_codequality": formats.to_gitlab_codequality,
            "integrity_counts": formats.counts_line,
            "to_html_report": html.to_html,
            "to_mermaid": html.to_mermaid,
        }
