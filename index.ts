// A private Docker registry behind nginx with ACME TLS, basic auth and renewal.
// Reads the stack config into the component's args, builds the registry, exports what other
// stacks consume.
import * as pulumi from "@pulumi/pulumi";
import { PrivateRegistry } from "./components/privateRegistry";
import { readStackArgs } from "./stackConfig";

const registry = new PrivateRegistry("registry", readStackArgs());

export const url = registry.url;
export const host = registry.host;
export const userNames = registry.userNames;
export const passwords = pulumi.secret(registry.passwords);
export const dockerConfigJson = pulumi.secret(registry.dockerConfigJson);
export const caRoot = registry.caRoot;
export const certificateExpiry = registry.certificateExpiry;
export const volumes = registry.volumes;
export const hosts = registry.hosts;
export const mirrors = registry.mirrors;
