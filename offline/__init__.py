"""Offline render: run the Pulumi program under mocks and write what it would deploy."""
