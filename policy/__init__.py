"""llmstack's security checklist as code: a Pulumi CrossGuard policy pack and an offline audit.

- `rules.py`: the checklist, pure functions over (resource type, inputs);
- `pack.py` + `__main__.py`: the policy pack, `make policy-venv` then `pulumi preview --policy-pack policy`
  (self-contained: nothing here imports from outside this directory, except `audit.py`);
- `audit.py`: the same rules over the offline render, `python -m policy.audit --stack dev`.
"""
