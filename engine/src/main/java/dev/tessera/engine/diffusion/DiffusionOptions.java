package dev.tessera.engine.diffusion;

import java.nio.file.Path;
import java.util.Objects;

/**
 * How to load a diffusion pipeline.
 *
 * @param modelDir a diffusers pipeline directory ({@code model_index.json})
 * @param cacheDir where converted graphs are cached ({@code cacheDir/graphs/sd-<key>/})
 * @param threads  ONNX Runtime intra-op threads per graph
 * @param name     the name it is served under
 */
public record DiffusionOptions(Path modelDir, Path cacheDir, int threads, String name) {
    public DiffusionOptions {
        Objects.requireNonNull(modelDir, "modelDir");
        Objects.requireNonNull(cacheDir, "cacheDir");
        Objects.requireNonNull(name, "name");
        if (threads < 1) throw new IllegalArgumentException("threads must be >= 1, not " + threads);
        if (name.isBlank()) throw new IllegalArgumentException("name must not be blank");
    }

    /** Served under the directory's name. */
    public DiffusionOptions(Path modelDir, Path cacheDir, int threads) {
        this(modelDir, cacheDir, threads, modelDir.toAbsolutePath().normalize().getFileName().toString());
    }
}
