// A host's Docker daemon, as the provider and the commands reach it: unix://, ssh://, or
// tcp:// with TLS, whose client key becomes a secret Output here, once, for both.
import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { keyPemProblem } from "../settings/hosts";
import { DockerTls } from "../settings/types";
import { secretOutput } from "./secretOutput";

/** A host's daemon: its address (the settings', or a given provider's) and TLS client material. */
export interface DockerTarget {
    dockerHost: pulumi.Input<string>;
    dockerTls?: DockerTls;
}

/** The TLS client key as a secret Output (checked once it resolves, when a program passes it). */
export function dockerTlsKey(tls: DockerTls): pulumi.Output<string> {
    return secretOutput(tls.key, "hosts[].tls.key", keyPemProblem);
}

/** The provider of a host's daemon: over tcp://, with its TLS material (the key a secret). */
export function dockerProvider(name: string, target: DockerTarget, opts: pulumi.CustomResourceOptions): docker.Provider {
    const tls = target.dockerTls;
    return new docker.Provider(
        name,
        {
            host: target.dockerHost,
            ...(tls ? { caMaterial: tls.caCertificate, certMaterial: tls.certificate, keyMaterial: dockerTlsKey(tls) } : {}),
        },
        opts,
    );
}
