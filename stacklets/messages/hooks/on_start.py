"""Every up, before the containers: keep homeserver.yaml and Element's config.json in step with
stack.toml (public URLs change between port and domain mode)."""

from _synapse import write_files


def run(ctx):
    if write_files(ctx):
        ctx.warn("The Synapse/Element configuration changed: run `stack restart messages` if they were already running")
