// A consumer of the registry stack: reads its outputs through a StackReference, then builds a
// small image and pushes it through the registry as the stack's first user. The password is a
// secret from the registry stack to the push, and never leaves it in plain text.
import * as path from "node:path";
import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";

const config = new pulumi.Config();
const registry = new pulumi.StackReference("registry", { name: config.require("registryStack") });

const host = registry.requireOutput("host") as pulumi.Output<string>;
const userNames = registry.requireOutput("userNames") as pulumi.Output<string[]>;
const passwords = registry.requireOutput("passwords") as pulumi.Output<Record<string, string>>;
const user = userNames.apply((names) => names[0]);
const password = pulumi.secret(pulumi.all([passwords, user]).apply(([pw, u]) => pw[u]));

// Built by the local Docker engine from ./app, then pushed to <host>/<repository>:<tag>. A
// private CA (a dev stack's Pebble, its caRoot output) must be trusted by that engine:
//   /etc/docker/certs.d/<host>/ca.crt
const image = new docker.Image("hello", {
    imageName: pulumi.interpolate`${host}/${config.get("repository") ?? "examples/hello"}:${config.get("tag") ?? "1"}`,
    build: { context: path.join(__dirname, "app") },
    registry: { server: host, username: user, password },
});

export const registryUrl = registry.requireOutput("url");
/** The pushed image by digest: `docker pull <repoDigest>`. */
export const repoDigest = image.repoDigest;
