"""A private Docker registry declared in Python: PrivateRegistry from the component package
(../../plugin), with a push user and a pull-only user whose passwords the component generates."""

import pulumi
import pulumi_private_registry as private_registry

config = pulumi.Config()
registry = private_registry.PrivateRegistry(
    "registry",
    domain=config.require("domain"),
    acme_email="ops@example.com",
    users={
        "ci": {"access": private_registry.UserAccess.PUSH},
        "reader": {"access": private_registry.UserAccess.PULL},
    },
    gc_interval_hours=168,
)

pulumi.export("url", registry.url)
pulumi.export("host", registry.host)
pulumi.export("passwords", registry.passwords)
