"""llmstack's security checklist as code: a Pulumi CrossGuard policy pack and an offline audit.

- `rules.py`: the checklist, pure functions over (resource type, inputs);
- `pack.py` + `__main__.py`: the policy pack, `pulumi preview --policy-pack policy`;
- `audit.py`: the same rules over the offline render, `python -m policy.audit --stack dev`.
"""
