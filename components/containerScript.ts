// A script run inside a container on the stack's Docker host, as a command resource.
//
// The script travels on stdin (`docker exec -i <container> sh -s`), so file contents and
// secrets stay out of process arguments, and the resource's `create` string is short and
// constant. The docker CLI talks to the same host as the provider (DOCKER_HOST); over
// tcp:// with TLS, the host's client certificate goes to a private temporary directory for
// that one command (DOCKER_CERT_PATH), from the command's environment (a secret in state).
import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { DockerTarget, dockerTlsKey } from "./dockerTarget";

export interface ContainerScriptArgs {
    /** The Docker daemon (unix://, ssh://, or tcp:// with its TLS client material). */
    docker: DockerTarget;
    /** Name of the running container the script runs in. */
    container: pulumi.Input<string>;
    /** The shell script. Mark it secret when it carries secrets. */
    script: pulumi.Input<string>;
    /** Values whose change re-runs the script as a replacement. */
    triggers?: pulumi.Input<unknown>[];
    /**
     * Hands the script what its last run printed (PULUMI_COMMAND_STDOUT, which the command
     * resource sets on an update) inside the container.
     */
    lastOutput?: boolean;
}

/** Writes the client certificate where the docker CLI reads it, for this command only. */
const WITH_CERTS =
    'd=$(mktemp -d) && trap \'rm -rf "$d"\' EXIT && (umask 077 && printf "%s" "$REGISTRY_DOCKER_CA" > "$d/ca.pem" && printf "%s" "$REGISTRY_DOCKER_CERT" > "$d/cert.pem" && printf "%s" "$REGISTRY_DOCKER_KEY" > "$d/key.pem") && DOCKER_CERT_PATH="$d"';

/**
 * A shell command line that runs `commandLine` (docker CLI calls) against the host's daemon,
 * and the environment it needs: DOCKER_HOST, and over TLS the client material (secret).
 */
export function dockerCommand(
    target: DockerTarget,
    commandLine: pulumi.Input<string>,
): { line: pulumi.Output<string>; environment: Record<string, pulumi.Input<string>> } {
    const tls = target.dockerTls;
    const environment: Record<string, pulumi.Input<string>> = { DOCKER_HOST: target.dockerHost };
    if (!tls) return { line: pulumi.output(commandLine), environment };
    environment.DOCKER_TLS_VERIFY = "1";
    environment.REGISTRY_DOCKER_CA = tls.caCertificate;
    environment.REGISTRY_DOCKER_CERT = tls.certificate;
    environment.REGISTRY_DOCKER_KEY = dockerTlsKey(tls);
    return { line: pulumi.interpolate`${WITH_CERTS} ${commandLine}`, environment };
}

export function containerScript(name: string, args: ContainerScriptArgs, opts: pulumi.CustomResourceOptions): command.local.Command {
    const exec = args.lastOutput ? "docker exec -e PULUMI_COMMAND_STDOUT -i" : "docker exec -i";
    const { line, environment } = dockerCommand(args.docker, pulumi.interpolate`${exec} ${args.container} sh -s`);
    return new command.local.Command(
        name,
        {
            create: line,
            update: line,
            stdin: args.script,
            environment,
            triggers: args.triggers,
        },
        opts,
    );
}
