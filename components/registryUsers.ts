// RegistryUsers: the registry's users as bcrypt lines in nginx's htpasswd file, plus per-user
// access rules (what each may do with which repository), installed as one unit. Passwords come
// from secret config or are generated; the file changes only when a password does. A
// password change replaces no container.
import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { Credential, renderAccessRules, renderHtpasswd } from "../configs/htpasswd";
import { droppedUsersWarning, installedUsers, renderUsersInstall, USERS_RULES_PATH } from "../configs/install";
import { passwordProblem } from "../settings/validators";
import { Settings } from "../settings/types";
import { containerScript, dockerCommand } from "./containerScript";
import { DockerTarget } from "./dockerTarget";
import { secretOutput } from "./secretOutput";

export interface RegistryUsersArgs {
    settings: Pick<Settings, "users" | "bcryptCost">;
    /** The Docker daemon of nginx's host. */
    docker: DockerTarget;
    /** Name of the running nginx container. */
    nginxContainer: pulumi.Input<string>;
    /** Its id: a new nginx container gets the users again (its auth volume may be new). */
    nginxId: pulumi.Input<string>;
    /** Every user's password, in settings.users' order (userPasswords: one set for every host). */
    passwords: pulumi.Output<string>[];
}

/** Pulumi's type of a generated password. */
const PASSWORD_TYPE = "random:index/randomPassword:RandomPassword";

/**
 * Each user's password, in order: the one configured, or a generated one kept in the state as
 * `<name>-<user>-password` under `parent`, whatever the number of hosts. `formerly`: where a
 * single host's RegistryUsers kept them before (formerUsers), as aliases, so that a stack keeps
 * its generated passwords when it upgrades and when it grows to several hosts.
 */
export function userPasswords(
    name: string,
    users: Settings["users"],
    parent: pulumi.Resource,
    formerly?: { name: string; parents: pulumi.Output<string>[] },
): pulumi.Output<string>[] {
    return users.map((u) => {
        if (u.password) return secretOutput(u.password, `users.${u.name}.password`, passwordProblem);
        const aliases = (formerly?.parents ?? []).map((urn) =>
            pulumi.createUrn(`${formerly!.name}-${u.name}-password`, PASSWORD_TYPE, urn),
        );
        return new random.RandomPassword(`${name}-${u.name}-password`, { length: 32, special: false }, { parent, aliases }).result;
    });
}

/**
 * Where a single host's RegistryUsers named `name` kept its generated passwords: under any of
 * `parents` (the PrivateRegistry's URN now and under its former type), as either of its types
 * (`Htpasswd` before it was renamed).
 */
export function formerUsers(name: string, parents: pulumi.Input<string>[]): { name: string; parents: pulumi.Output<string>[] } {
    const types = ["registry:index:Htpasswd", "registry:index:RegistryUsers"];
    return { name, parents: parents.flatMap((parent) => types.map((type) => pulumi.createUrn(name, type, parent))) };
}

export class RegistryUsers extends pulumi.ComponentResource {
    /** Every user's password, by user name (secret). */
    public readonly passwords: pulumi.Output<Record<string, string>>;

    constructor(name: string, args: RegistryUsersArgs, opts: pulumi.ComponentResourceOptions = {}) {
        // Formerly `Htpasswd`: the alias keeps existing stacks' users (and their children) in place.
        super(
            "registry:index:RegistryUsers",
            name,
            {},
            { ...opts, aliases: [...(opts.aliases ?? []), { type: "registry:index:Htpasswd" }] },
        );
        const settings = args.settings;

        // Per-stack key for the deterministic bcrypt salts, secret in the state. A RandomPassword,
        // not RandomBytes: RandomBytes uses its value as the resource id, which state keeps in clear.
        const saltKey = new random.RandomPassword(`${name}-salt-key`, { length: 64, special: false }, { parent: this });

        const passwords = args.passwords;

        const users = pulumi.all(passwords).apply((pws) =>
            settings.users.map((u, i): Credential => ({
                name: u.name,
                access: u.access,
                repositories: u.repositories,
                password: pws[i],
            })),
        );

        // The htpasswd file and the access rules go live together, with one reload.
        const script = pulumi.secret(
            pulumi
                .all([users, saltKey.result])
                .apply(([list, key]) =>
                    renderUsersInstall(renderHtpasswd(list, key, settings.bcryptCost), (file) => renderAccessRules(list, file)),
                ),
        );

        const install = containerScript(
            `${name}-install`,
            { docker: args.docker, container: args.nginxContainer, script, triggers: [args.nginxId] },
            { parent: this },
        );

        if (pulumi.runtime.isDryRun()) warnDroppedUsers(args, this);

        // Handed out only once nginx has them: a consumer never gets a password that fails.
        this.passwords = pulumi.secret(
            pulumi.all([users, install.stdout]).apply(([list]) => Object.fromEntries(list.map((u) => [u.name, u.password]))),
        );

        this.registerOutputs({ passwords: this.passwords });
    }
}

/**
 * In a preview: users the running nginx has installed that are no longer declared lose access
 * with this update, so the preview says so, naming them. It reads the installed access rules
 * (names only); a stack not deployed yet, or not reachable, has none to compare.
 */
function warnDroppedUsers(args: RegistryUsersArgs, parent: pulumi.Resource): void {
    const { line, environment } = dockerCommand(
        args.docker,
        pulumi.interpolate`{ docker exec ${args.nginxContainer} cat ${USERS_RULES_PATH} 2>/dev/null || true; }`,
    );
    command.local.runOutput({ command: line, environment, logging: "none" }).stdout.apply((rules) => {
        const declared = args.settings.users.map((u) => u.name);
        const dropped = installedUsers(rules).filter((u) => !declared.includes(u));
        if (dropped.length) pulumi.log.warn(droppedUsersWarning(dropped), parent);
    });
}
