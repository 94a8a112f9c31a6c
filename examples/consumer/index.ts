// A consumer of the registry stack: reads its outputs through a StackReference and points a
// Docker provider at it with the first user's credentials (kept secret end to end).
import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";

const config = new pulumi.Config();
const registry = new pulumi.StackReference("registry", { name: config.require("registryStack") });

const host = registry.requireOutput("host") as pulumi.Output<string>;
const userNames = registry.requireOutput("userNames") as pulumi.Output<string[]>;
const passwords = registry.requireOutput("passwords") as pulumi.Output<Record<string, string>>;
const user = userNames.apply((names) => names[0]);

export const registryUrl = registry.requireOutput("url");
export const registryProvider = new docker.Provider("registry", {
    registryAuth: [{ address: host, username: user, password: pulumi.secret(pulumi.all([passwords, user]).apply(([pw, u]) => pw[u])) }],
}).urn;
// Local stacks (Pebble) export the CA root that Docker must trust for the host:
//   /etc/docker/certs.d/<host>/ca.crt
export const caRoot = registry.getOutput("caRoot");
