package dev.tessera.cli;

import dev.tessera.builtin.ModelRef;
import dev.tessera.gateway.launch.ModelResolver;
import java.nio.file.Path;
import java.util.List;

/**
 * {@code bin/engine serve}'s models: checkpoint directories and the built-in random-weight models
 * ({@code builtin:NAME}, generated into the cache on first use). With no {@code --model} it serves the built-in
 * text model (the default text model), the built-in vision-language model {@code vlm-tiny}, the built-in
 * detector and the built-in diffusion pipeline {@code sd-tiny} (random weights: its images are noise).
 */
final class BuiltinModelResolver implements ModelResolver {
    /** What {@code bin/engine serve} serves with no --model. */
    static final List<String> DEFAULTS = List.of("builtin:tiny", "builtin:vlm-tiny", "builtin:detr-tiny",
            "builtin:sd-tiny");

    @Override
    public Path resolve(String ref, Path cacheDir) {
        return new ModelRef(ref).resolve(cacheDir);
    }

    @Override
    public String servedName(String ref) {
        return new ModelRef(ref).servedName();
    }

    @Override
    public List<String> defaults() {
        return DEFAULTS;
    }
}
