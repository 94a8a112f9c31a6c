// A host's pull-through mirrors (configs/mirrors.ts): per mirror a registry container in proxy
// mode with its own data volume (retained like the registry's), and one socket volume that
// only the mirrors and nginx mount. A host declaration (components/registryHost.ts) calls it
// before nginx, which mounts the socket volume; with several hosts, each host caches apart.
import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import {
    MIRROR_CA_PATH,
    MIRROR_CONFIG_PATH,
    MIRROR_CREDENTIALS_PATH,
    MIRROR_CREDENTIALS_PERMISSIONS,
    MIRROR_SOCKET_DIR,
    mirrorContainerName,
    renderMirrorConfig,
    renderMirrorCredentials,
    renderMirrorSupervisor,
} from "../configs/mirrors";
import { REGISTRY_DATA_DIR, STOP_GRACE_SECONDS } from "../configs/registry";
import { mirrorPasswordProblem } from "../settings/mirrors";
import { Mirror, Settings } from "../settings/types";
import type { Labels } from "./containers";
import { secretOutput } from "./secretOutput";

export interface Mirrors {
    /** The sockets' volume, for nginx; undefined without mirrors (nginx mounts nothing more). */
    socket?: docker.Volume;
    containers: docker.Container[];
    /** Each mirror's cache volume, by mirror name. */
    volumes: Record<string, docker.Volume>;
}

/** The mirrors of one host, on its network (their way to the upstreams), with the registry's image. */
export function declareMirrors(
    name: string,
    settings: Settings,
    parts: { labels: Labels; network: docker.Network; image: docker.RemoteImage; httpSecret: pulumi.Output<string> },
    childOpts: pulumi.CustomResourceOptions,
): Mirrors {
    if (settings.mirrors.length === 0) return { containers: [], volumes: {} };
    const volume = (role: string, volumeName: string, keep: boolean) =>
        new docker.Volume(
            `${name}-${role}`,
            { name: volumeName, labels: parts.labels },
            { ...childOpts, ignoreChanges: ["labels"], ...(keep ? { retainOnDelete: settings.retainVolumes } : {}) },
        );
    const socket = volume("mirror-socket", `${settings.namePrefix}-mirror-socket`, false);
    const volumes: Record<string, docker.Volume> = {};
    const containers = settings.mirrors.map((m) => {
        // Cached content outlives the container, and `pulumi destroy` unless retainVolumes is false.
        volumes[m.name] = volume(`mirror-${m.name}-data`, mirrorContainerName(settings, m), true);
        return mirrorContainer(name, settings, m, { ...parts, data: volumes[m.name], socket }, childOpts);
    });
    return { socket, containers, volumes };
}

function mirrorContainer(
    name: string,
    settings: Settings,
    m: Mirror,
    parts: { labels: Labels; network: docker.Network; image: docker.RemoteImage; httpSecret: pulumi.Output<string> } & {
        data: docker.Volume;
        socket: docker.Volume;
    },
    childOpts: pulumi.CustomResourceOptions,
): docker.Container {
    const credentials = m.credentials;
    const uploads: docker.types.input.ContainerUpload[] = [
        { file: MIRROR_CONFIG_PATH, content: pulumi.secret(parts.httpSecret.apply((secret) => renderMirrorConfig(settings, m, secret))) },
        // The upstream's password: a root-only file (a secret in state), read into the registry's environment.
        ...(credentials
            ? [
                  {
                      file: MIRROR_CREDENTIALS_PATH,
                      permissions: MIRROR_CREDENTIALS_PERMISSIONS,
                      content: pulumi.secret(
                          secretOutput(credentials.password, `mirrors.${m.name}.password`, mirrorPasswordProblem).apply((password) =>
                              renderMirrorCredentials(credentials.username, password),
                          ),
                      ),
                  },
              ]
            : []),
        ...(m.caCertificate ? [{ file: MIRROR_CA_PATH, content: m.caCertificate }] : []),
    ];
    return new docker.Container(
        `${name}-mirror-${m.name}`,
        {
            name: mirrorContainerName(settings, m),
            image: parts.image.imageId,
            entrypoints: ["/bin/sh", "-c"],
            command: [renderMirrorSupervisor(m)],
            uploads,
            // Its way out to the upstream; nginx reaches it only through its socket (no TCP port).
            networksAdvanced: [{ name: parts.network.name }],
            volumes: [
                { volumeName: parts.data.name, containerPath: REGISTRY_DATA_DIR },
                { volumeName: parts.socket.name, containerPath: MIRROR_SOCKET_DIR },
            ],
            stopTimeout: STOP_GRACE_SECONDS,
            destroyGraceSeconds: STOP_GRACE_SECONDS,
            restart: "unless-stopped",
            labels: parts.labels,
        },
        { ...childOpts, deleteBeforeReplace: true },
    );
}
