# -*- coding: utf-8 -*-
# Copyright: fournines.runbooks contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The update autopilot (``playbooks/autopilot.yml``, issue 16): policy, decisions, its own records.

Interface note for whoever builds beside it (AWX workflow, Molecule, fleet waves). Pure logic in
``policy.py`` (validation), ``windows.py`` (maintenance windows, freezes), ``decide.py`` (one decision
per component), ``records.py`` (first-seen record, approval requests, the JSON-lines ledger).

Policy (YAML, the variable ``autopilot_policy`` or a file) -- every key optional unless marked::

    timezone: Europe/Berlin          # IANA name; default of every window and freeze (default UTC)
    min_release_age_days: 7          # default for components: days since the autopilot FIRST SAW a version
    min_error_budget_percent: 25     # share of the SLO's allowed downtime that must remain (0-100)
    slo: {objective: 99.99, window: 30d}   # as module_utils/common/slo (the runbooks' downtime ledger)
    min_hours_between_changes: 24    # between two disruptive changes (any component, per cluster)
    approval_expiry_hours: 72        # a pending request older than this expires; never asked again
    windows:                         # required: maintenance windows (empty only if every kind is never)
      - {days: [mon, tue, wed, thu], start: "22:00", end: "04:00", timezone: Europe/Berlin}
        # end <= start: the window crosses midnight and belongs to the day it starts on
    freezes:                         # nothing disruptive inside [start, end)
      - {start: "2026-12-20T00:00", end: "2027-01-04T00:00", reason: holidays, timezone: Europe/Berlin}
    components:                      # only these names; a component left out is not managed
      lke_kubernetes: {minor: approve, major: never, min_release_age_days: 14}
      lke_node_patch: {patch: auto}
      postgres: {backend: host, patch: auto, major: approve}   # backend: host | cloudnative_pg
      # under cloudnative_pg, the images it may move to (tags MAJOR.MINOR..., MAJOR alone for a major; cnpg.py):
      # postgres: {backend: cloudnative_pg, patch: auto, images: [ghcr.io/cloudnative-pg/postgresql:17.6-bookworm]}
    waves:                           # fleets: clusters (inventory names) in order; first = canary
      - {name: canary, clusters: [staging], soak_hours: 24}
      - {name: rest, clusters: [production]}
    regression:                      # a canary wave regressed if, since its change, ...
      max_probe_failure_percent: 1.0 #   ... its prober failed more than this share of probes, or
      max_budget_drop_percent: 10    #   ... its error budget fell by more than this many points

Change kinds per component: ``lke_kubernetes`` minor | major (LKE versions are major.minor, one
minor step per run, as upgrade_cluster does); ``lke_node_patch`` patch (nodes whose kubelet is below
the control plane's patch level); ``postgres`` patch (same major, 15.18 -> 15.20; PostgreSQL calls it
a minor release) | major. Each kind: ``auto`` | ``approve`` | ``never`` (a kind left out: ``never``).
Refused as contradictory: a bigger kind more automatic than a smaller one (minor auto, patch approve),
``auto`` or ``approve`` with ``windows: []``, a wave naming a cluster twice, a freeze ending before it starts.

Decision (one per component and cluster per run; ``decision`` is one of :data:`decide.DECISIONS`)::

    {"cluster": "lab", "component": "lke_node_patch", "current": "1.33.2", "candidate": "1.33.4",
     "kind": "patch", "mode": "auto", "decision": "apply", "detail": "inside window ...",
     "first_seen": "2026-12-01T02:00:00Z", "age_days": 4.0, "request_id": null, "disruptive": true}

    decisions: "up to date", "apply", "wait: too new", "wait: outside window", "wait: frozen",
    "wait: budget", "wait: too soon after the last change", "wait: one change per run",
    "needs approval", "never", "skip: denied", "skip: expired"

Records under ``<reports_dir>/autopilot/``:

- ``ledger.jsonl``: one JSON object per line, ``{"ts", "run_id", "event", ...}``; ``event`` is
  ``decision`` (the decision's fields), ``started`` / ``applied`` / ``failed`` (cluster, component,
  candidate, runbook run id), ``request`` / ``approved`` / ``denied`` / ``expired`` (request_id).
  The last ``started`` event of a cluster is its last disruptive change (spacing rule).
- ``seen.json``: ``{"<cluster>/<component>/<version>": "<ISO first seen>"}``.
- ``requests/<request id>.json``: ``{"id", "cluster", "component", "current", "candidate", "kind",
  "created", "expires", "status": pending|approved|denied|expired|applied, "evidence": {...}}``.
  The id is ``ap-<cluster>-<component>-<candidate>`` (one request per version, never asked twice);
  ``-e autopilot_approve=<id>`` approves it on the next run.

Beside the core (fleet, AWX; see ``waves.py`` and roles/awx_config/README.md, "The autopilot workflow"):

- Waves: :func:`waves.holds` gives, per cluster, the ``wave_hold`` for one component and candidate from
  each cluster's current version, its ledger ``applied`` time (:func:`waves.applied_at`) and its health
  since then (:func:`waves.probe_failure_percent` of its prober's samples, :func:`waves.budget_drop` of its
  downtime ledger).
- AWX needs from ``playbooks/autopilot.yml``: one ``set_stats`` ``fournines_autopilot`` with ``report``,
  ``status``, ``run_id``, ``decisions`` and ``approval_requests`` (the request ids this run published: what
  the approval node is about); and the variable ``autopilot_workflow_answer`` (``approve`` | ``deny``, set by the
  workflow's answer templates): answer the request(s) in ``fournines_autopilot.approval_requests`` (the first
  job's artifacts, handed on as extra vars) as ``autopilot_approve`` / ``autopilot_deny`` would; no
  artifacts or no request: nothing to answer, nothing changed, success.
"""
