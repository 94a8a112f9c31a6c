// RegistryHost: one Docker host's part of the registry, as PrivateRegistry declares it for its
// one host or for each of `hosts`: network, volumes, images, registry, nginx, (Pebble), certbot,
// (the GC coordinator), (the S3 retention helper), then the storage check, the certificate bootstrap and the users; with
// several hosts, a readiness check the next host's containers wait for (a rolling update).
// A component, so that a preview and the console group each host's resources under it.
import * as command from "@pulumi/command";
import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { healthProblems, renderHealthCheck } from "../configs/health";
import { renderReadinessCheck } from "../configs/nginx";
import { renderDataVolumeCheck, renderGcScheduleInstall, renderStorageCheck } from "../configs/registry";
import { GC_COORDINATOR_PATH } from "../configs/gc";
import { needsS3Helper } from "../configs/s3HelperProtocol";
import { Settings } from "../settings/types";
import {
    certbotContainer,
    declareImages,
    declareVolumes,
    gcCoordinatorContainer,
    Labels,
    nginxContainer,
    nginxName,
    registryContainer,
    s3HelperContainer,
    Volumes,
} from "./containers";
import { containerScript, dockerCommand } from "./containerScript";
import { DockerTarget } from "./dockerTarget";
import { LocalAcmeServer } from "./localAcmeServer";
import { declareMirrors } from "./mirrors";
import { declareMetricsEndpoint } from "./metricsEndpoint";
import { RegistryUsers } from "./registryUsers";
import { TlsCertificate } from "./tlsCertificate";

export interface HostParts {
    /** This host's settings (settings/hosts.ts hostSettings, or the settings of a single host). */
    settings: Settings;
    /** The host's name in `hosts` ("" for a single host). */
    node: string;
    labels: Labels;
    provider: docker.Provider;
    /** The host's daemon as the docker CLI of the commands reaches it (the provider's). */
    docker: DockerTarget;
    /** The registry's http.secret, one for every host. */
    httpSecret: pulumi.Output<string>;
    /** Every user's password (one set for every host). */
    passwords: pulumi.Output<string>[];
    /** The Redis container this program runs, which the coordinators wait for. */
    redis?: docker.Container;
    /** What this host's containers wait for: the host before it serving again. */
    after?: pulumi.Resource;
}

/** Pulumi's type of a host's component. */
export const REGISTRY_HOST_TYPE = "registry:index:RegistryHost";

export class RegistryHost extends pulumi.ComponentResource {
    public readonly tls: TlsCertificate;
    public readonly users: RegistryUsers;
    public readonly volumes: Volumes;
    /** With several hosts: done once this host serves /v2/ again after a change. */
    public readonly ready?: pulumi.Resource;

    /** `opts.parent`: the PrivateRegistry, whose children this host's resources were before hosts were components. */
    constructor(name: string, parts: HostParts, opts: pulumi.ComponentResourceOptions & { parent: pulumi.Resource }) {
        super(REGISTRY_HOST_TYPE, name, {}, opts);
        // The alias keeps each resource (and through it, its own children) in stacks made
        // before: nothing is replaced by the upgrade.
        const own = { parent: this, aliases: [{ parent: opts.parent }] };
        const declared = declareHost(name, parts, own);
        this.tls = declared.tls;
        this.users = declared.users;
        this.volumes = declared.volumes;
        this.ready = declared.ready;
        this.registerOutputs({});
    }
}

/** Options every resource of a host is declared with: its parent, and the alias to where it was. */
type HostOpts = { parent: pulumi.Resource; aliases: pulumi.Input<pulumi.Alias>[] };

function declareHost(
    name: string,
    parts: HostParts,
    own: HostOpts,
): { tls: TlsCertificate; users: RegistryUsers; volumes: Volumes; ready?: pulumi.Resource } {
    const { settings, labels, provider } = parts;
    const childOpts = { ...own, provider };

    const network = new docker.Network(
        `${name}-network`,
        { name: `${settings.namePrefix}-net`, driver: "bridge", labels },
        { ...childOpts, ignoreChanges: ["labels"] },
    );
    const volumes = declareVolumes(name, settings, labels, childOpts);
    const images = declareImages(name, settings, childOpts);
    const base = { labels, network, volumes };
    // GC across hosts, through Redis; the deploy fails with Redis' own reason when it cannot be
    // used, before this host's registry is given the new Redis settings.
    let redisCheck: pulumi.Resource | undefined;
    let coordinator: docker.Container | undefined;
    if (settings.redis) {
        const node = parts.node || settings.namePrefix;
        coordinator = gcCoordinatorContainer(name, settings, node, { ...base, image: images.certbot, redis: parts.redis }, childOpts);
        redisCheck = containerScript(
            `${name}-redis-check`,
            {
                docker: parts.docker,
                container: coordinator.name,
                script: `python3 ${GC_COORDINATOR_PATH} --check\n`,
                triggers: [coordinator.id],
            },
            own,
        );
    }
    const after = [...(parts.after ? [parts.after] : []), ...(redisCheck ? [redisCheck] : [])];
    const registry = registryContainer(name, settings, { ...base, image: images.registry, httpSecret: parts.httpSecret, after }, childOpts);
    // Pull-through mirrors: each its own registry and cache volume, reached by nginx alone.
    const mirrors = declareMirrors(name, settings, { labels, network, image: images.registry, httpSecret: parts.httpSecret }, childOpts);
    const nginx = nginxContainer(name, settings, { ...base, image: images.nginx, registry, mirrorSocket: mirrors.socket }, childOpts);
    const acme =
        settings.acme.kind === "pebble"
            ? new LocalAcmeServer(
                  `${name}-pebble`,
                  { settings, network: network.name, labels, nginx: nginxName(settings), resolverImage: images.certbot.imageId },
                  childOpts,
              )
            : undefined;
    const certbot = certbotContainer(name, settings, { ...base, image: images.certbot, acme }, childOpts);
    // S3 with retention or metrics: the helper the supervisor asks to list and delete in the bucket.
    const s3Helper = needsS3Helper(settings) ? s3HelperContainer(name, settings, { ...base, image: images.certbot }, childOpts) : undefined;

    // Fails the deploy with the driver's message when the registry cannot use its storage
    // (wrong keys, missing bucket, unreachable endpoint). Runs whenever the registry is (re)created.
    const storageCheck = containerScript(
        `${name}-storage-check`,
        { docker: parts.docker, container: nginx.name, script: renderStorageCheck(settings), triggers: [registry.id] },
        own,
    );
    const dataCheck = settings.storage.driver === "filesystem" ? dataVolumeCheck(name, parts.docker, registry, own) : undefined;
    // The GC schedule reaches the running registry (its supervisor reads it at every turn): a
    // new gcIntervalHours or gcDeleteUntagged replaces no container. Written again into every
    // new registry container, whose control volume may be new.
    containerScript(
        `${name}-gc-schedule-install`,
        { docker: parts.docker, container: registry.name, script: renderGcScheduleInstall(settings), triggers: [registry.id] },
        own,
    );
    const tls = new TlsCertificate(
        `${name}-tls`,
        {
            settings,
            docker: parts.docker,
            nginxContainer: nginx.name,
            nginxId: nginx.id,
            certbotContainer: certbot.name,
            certbotId: certbot.id,
        },
        own,
    );
    // Passwords are handed out once the registry can store what is pushed with them.
    const users = new RegistryUsers(
        `${name}-htpasswd`,
        { settings, docker: parts.docker, nginxContainer: nginx.name, nginxId: nginx.id, passwords: parts.passwords },
        { ...own, dependsOn: [tls, storageCheck] },
    );
    // The scrape endpoint, once the users (the last nginx install of a deploy) are in.
    declareMetricsEndpoint(name, settings, parts.docker, nginx, { ...own, dependsOn: [users] });
    const ready = parts.node
        ? containerScript(
              `${name}-ready`,
              {
                  docker: parts.docker,
                  container: nginx.name,
                  script: renderReadinessCheck(settings),
                  triggers: [registry.id, nginx.id],
              },
              { ...own, dependsOn: [users] },
          )
        : undefined;
    const containers = [
        registry,
        nginx,
        certbot,
        ...(acme ? acme.containers : []),
        ...(coordinator ? [coordinator] : []),
        ...(s3Helper ? [s3Helper] : []),
        ...mirrors.containers,
    ];
    reportHealth(
        name,
        settings,
        parts.docker,
        containers,
        nginx,
        [users, storageCheck, ...(dataCheck ? [dataCheck] : []), ...(ready ? [ready] : [])],
        own.parent,
    );
    return { tls, users, volumes, ready };
}

/**
 * Each new registry container looks at its data volume: a volume lost and made anew (empty) by
 * this deploy is reported in the update's output, since the images in it are gone (filesystem
 * storage). The registry's id is in the script, not in triggers: a new container updates this
 * command, which then sees what its last run printed.
 */
function dataVolumeCheck(name: string, target: DockerTarget, registry: docker.Container, own: HostOpts): command.local.Command {
    return containerScript(
        `${name}-data-volume`,
        {
            docker: target,
            container: registry.name,
            script: pulumi.interpolate`# registry container ${registry.id}\n${renderDataVolumeCheck()}`,
            lastOutput: true,
        },
        own,
    );
}

/**
 * After every deploy (and in previews, once the host exists): is each container running, and
 * does the host serve the registry? A plain `pulumi up` cannot see containers or volumes removed
 * by hand, so this check is what tells: a warning in a preview, an error (a failed update) in
 * `pulumi up`, naming what is wrong and the command that repairs it.
 */
function reportHealth(
    name: string,
    settings: Settings,
    target: DockerTarget,
    containers: docker.Container[],
    nginx: docker.Container,
    after: pulumi.Resource[],
    parent: pulumi.Resource,
): void {
    const script = pulumi
        .all([pulumi.all(containers.map((c) => c.name)), nginx.name])
        .apply(([names, n]) => renderHealthCheck(settings, names, n));
    const { line, environment } = dockerCommand(target, "sh -s");
    const check = command.local.runOutput({ command: line, stdin: script, environment, logging: "none" }, { dependsOn: after, parent });
    check.stdout.apply((out) => {
        const problems = healthProblems(out);
        if (problems.length === 0) return;
        const message = [
            `${name}: the registry is not serving as deployed:`,
            ...problems.map((p) => `  - ${p}`),
            "Containers or volumes were removed outside Pulumi (a prune, a lost disk). Run `pulumi up --refresh`: it re-creates them, with the certificate and users (README, Troubleshooting).",
        ].join("\n");
        if (pulumi.runtime.isDryRun()) pulumi.log.warn(message, parent);
        // Unhandled, it fails the update with this message (no stack: it is the user's to read).
        else throw new pulumi.ResourceError(message, parent, true);
    });
}
