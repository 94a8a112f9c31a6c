// The Prometheus scrape endpoint of one host (configs/metrics.ts), installed into its running
// nginx: again into every new nginx container, whose config volume may be new, and taken out
// again when metrics are turned off (the resource's delete), so nothing listens unasked.
import * as command from "@pulumi/command";
import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { metricsCredentialHash, renderMetricsFiles, renderMetricsInstall } from "../configs/metrics";
import { NGINX_CONF_DIR } from "../configs/nginx";
import { metricsPasswordProblem } from "../settings/metrics";
import { Settings } from "../settings/types";
import { dockerCommand } from "./containerScript";
import { DockerTarget } from "./dockerTarget";
import { secretOutput } from "./secretOutput";

/** Declares the endpoint's install on `nginx` when metrics are enabled; nothing otherwise. */
export function declareMetricsEndpoint(
    name: string,
    settings: Settings,
    target: DockerTarget,
    nginx: docker.Container,
    opts: pulumi.CustomResourceOptions,
): command.local.Command | undefined {
    if (!settings.metrics.enabled) return undefined;
    const password = settings.metrics.password;
    const hash = password
        ? secretOutput(password, "metrics.password", metricsPasswordProblem).apply(metricsCredentialHash)
        : pulumi.output(metricsCredentialHash(undefined));
    const script = pulumi.secret(hash.apply((h) => renderMetricsInstall(settings, h)));
    const install = dockerCommand(target, pulumi.interpolate`docker exec -i ${nginx.name} sh -s`);
    const paths = renderMetricsFiles(settings, "")
        .map((f) => `${NGINX_CONF_DIR}/${f.path}`)
        .join(" ");
    // Turned off: the files go and nginx reloads (PID 1 in its container); a container already gone has none to drop.
    const remove = dockerCommand(target, pulumi.interpolate`docker exec ${nginx.name} sh -c 'rm -f ${paths} && kill -HUP 1' || true`);
    return new command.local.Command(
        `${name}-metrics-install`,
        {
            create: install.line,
            update: install.line,
            delete: remove.line,
            stdin: script,
            environment: install.environment,
            triggers: [nginx.id],
        },
        opts,
    );
}
