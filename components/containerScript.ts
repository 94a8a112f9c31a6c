// A script run inside a container on the stack's Docker host, as a command resource.
//
// The script travels on stdin (`docker exec -i <container> sh -s`), so file contents and
// secrets stay out of process arguments, and the resource's `create` string is short and
// constant. The docker CLI talks to the same host as the provider (DOCKER_HOST).
import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";

export interface ContainerScriptArgs {
    /** Docker daemon address (unix:// or ssh://). */
    dockerHost: string;
    /** Name of the running container the script runs in. */
    container: pulumi.Input<string>;
    /** The shell script. Mark it secret when it carries secrets. */
    script: pulumi.Input<string>;
    /** Values whose change re-runs the script as a replacement. */
    triggers?: pulumi.Input<unknown>[];
}

export function containerScript(name: string, args: ContainerScriptArgs, opts: pulumi.CustomResourceOptions): command.local.Command {
    const run = pulumi.interpolate`docker exec -i ${args.container} sh -s`;
    return new command.local.Command(
        name,
        {
            create: run,
            update: run,
            stdin: args.script,
            environment: { DOCKER_HOST: args.dockerHost },
            triggers: args.triggers,
        },
        opts,
    );
}
