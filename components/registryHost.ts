// One Docker host's part of the registry, as PrivateRegistry declares it for its one host or
// for each of `hosts`: provider, network, volumes, images, registry, nginx, (Pebble), certbot,
// (the GC coordinator), then the storage check, the certificate bootstrap and the users; with
// several hosts, a readiness check the next host's containers wait for (a rolling update).
import * as command from "@pulumi/command";
import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { healthProblems, renderHealthCheck } from "../configs/health";
import { renderReadinessCheck } from "../configs/nginx";
import { renderDataVolumeCheck, renderGcScheduleInstall, renderStorageCheck } from "../configs/registry";
import { GC_COORDINATOR_PATH } from "../configs/gc";
import { Settings } from "../configs/settings";
import {
    certbotContainer,
    declareImages,
    declareVolumes,
    gcCoordinatorContainer,
    Labels,
    nginxContainer,
    nginxName,
    registryContainer,
    Volumes,
} from "./containers";
import { containerScript, dockerCommand } from "./containerScript";
import { LocalAcmeServer } from "./localAcmeServer";
import { RegistryUsers } from "./registryUsers";
import { TlsCertificate } from "./tlsCertificate";

export interface HostParts {
    /** This host's settings (configs/hosts.ts hostSettings, or the settings of a single host). */
    settings: Settings;
    /** The host's name in `hosts` ("" for a single host). */
    node: string;
    labels: Labels;
    provider: docker.Provider;
    /** The registry's http.secret, one for every host. */
    httpSecret: pulumi.Output<string>;
    /** Every user's password (one set for every host). */
    passwords: pulumi.Output<string>[];
    /** The Redis container this program runs, which the coordinators wait for. */
    redis?: docker.Container;
    /** What this host's containers wait for: the host before it serving again. */
    after?: pulumi.Resource;
}

export interface DeclaredHost {
    tls: TlsCertificate;
    users: RegistryUsers;
    volumes: Volumes;
    /** With several hosts: done once this host serves /v2/ again after a change. */
    ready?: pulumi.Resource;
}

export function declareHost(name: string, parts: HostParts, parent: pulumi.Resource): DeclaredHost {
    const { settings, labels, provider } = parts;
    const childOpts = { parent, provider };

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
                docker: settings,
                container: coordinator.name,
                script: `python3 ${GC_COORDINATOR_PATH} --check\n`,
                triggers: [coordinator.id],
            },
            { parent },
        );
    }
    const after = [...(parts.after ? [parts.after] : []), ...(redisCheck ? [redisCheck] : [])];
    const registry = registryContainer(name, settings, { ...base, image: images.registry, httpSecret: parts.httpSecret, after }, childOpts);
    const nginx = nginxContainer(name, settings, { ...base, image: images.nginx, registry }, childOpts);
    const acme =
        settings.acme.kind === "pebble"
            ? new LocalAcmeServer(
                  `${name}-pebble`,
                  { settings, network: network.name, labels, nginx: nginxName(settings), resolverImage: images.certbot.imageId },
                  childOpts,
              )
            : undefined;
    const certbot = certbotContainer(name, settings, { ...base, image: images.certbot, acme }, childOpts);

    // Fails the deploy with the driver's message when the registry cannot use its storage
    // (wrong keys, missing bucket, unreachable endpoint). Runs whenever the registry is (re)created.
    const storageCheck = containerScript(
        `${name}-storage-check`,
        { docker: settings, container: nginx.name, script: renderStorageCheck(settings), triggers: [registry.id] },
        { parent },
    );
    const dataCheck = settings.storage.driver === "filesystem" ? dataVolumeCheck(name, settings, registry, parent) : undefined;
    // The GC schedule reaches the running registry (its supervisor reads it at every turn): a
    // new gcIntervalHours or gcDeleteUntagged replaces no container. Written again into every
    // new registry container, whose control volume may be new.
    containerScript(
        `${name}-gc-schedule-install`,
        { docker: settings, container: registry.name, script: renderGcScheduleInstall(settings), triggers: [registry.id] },
        { parent },
    );
    const tls = new TlsCertificate(
        `${name}-tls`,
        { settings, nginxContainer: nginx.name, nginxId: nginx.id, certbotContainer: certbot.name, certbotId: certbot.id },
        { parent },
    );
    // Passwords are handed out once the registry can store what is pushed with them.
    const users = new RegistryUsers(
        `${name}-htpasswd`,
        { settings, nginxContainer: nginx.name, nginxId: nginx.id, passwords: parts.passwords },
        { parent, dependsOn: [tls, storageCheck] },
    );
    const ready = parts.node
        ? containerScript(
              `${name}-ready`,
              {
                  docker: settings,
                  container: nginx.name,
                  script: renderReadinessCheck(settings),
                  triggers: [registry.id, nginx.id],
              },
              { parent, dependsOn: [users] },
          )
        : undefined;
    const containers = [registry, nginx, certbot, ...(acme ? acme.containers : []), ...(coordinator ? [coordinator] : [])];
    reportHealth(
        name,
        settings,
        containers,
        nginx,
        [users, storageCheck, ...(dataCheck ? [dataCheck] : []), ...(ready ? [ready] : [])],
        parent,
    );
    return { tls, users, volumes, ready };
}

/**
 * Each new registry container looks at its data volume: a volume lost and made anew (empty) by
 * this deploy is reported in the update's output, since the images in it are gone (filesystem
 * storage). The registry's id is in the script, not in triggers: a new container updates this
 * command, which then sees what its last run printed.
 */
function dataVolumeCheck(name: string, settings: Settings, registry: docker.Container, parent: pulumi.Resource): command.local.Command {
    return containerScript(
        `${name}-data-volume`,
        {
            docker: settings,
            container: registry.name,
            script: pulumi.interpolate`# registry container ${registry.id}\n${renderDataVolumeCheck()}`,
            lastOutput: true,
        },
        { parent },
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
    containers: docker.Container[],
    nginx: docker.Container,
    after: pulumi.Resource[],
    parent: pulumi.Resource,
): void {
    const script = pulumi
        .all([pulumi.all(containers.map((c) => c.name)), nginx.name])
        .apply(([names, n]) => renderHealthCheck(settings, names, n));
    const { line, environment } = dockerCommand(settings, "sh -s");
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
