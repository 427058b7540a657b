package dev.tessera.engine.diffusion;

import org.jspecify.annotations.Nullable;

import java.nio.file.Path;
import java.util.Objects;

/**
 * How to load a diffusion pipeline.
 *
 * @param modelDir   a diffusers pipeline directory ({@code model_index.json})
 * @param cacheDir   where converted graphs are cached ({@code cacheDir/graphs/sd-<key>/})
 * @param threads    ONNX Runtime intra-op threads per graph
 * @param name       the name it is served under
 * @param controlNet a {@code ControlNetModel} directory ({@code config.json} + safetensors) attached to the
 *                   pipeline, in place of the pipeline's own {@code controlnet/} if it has one; null for the
 *                   pipeline's own (or none)
 */
public record DiffusionOptions(Path modelDir, Path cacheDir, int threads, String name, @Nullable Path controlNet) {
    public DiffusionOptions {
        Objects.requireNonNull(modelDir, "modelDir");
        Objects.requireNonNull(cacheDir, "cacheDir");
        Objects.requireNonNull(name, "name");
        if (threads < 1) throw new IllegalArgumentException("threads must be >= 1, not " + threads);
        if (name.isBlank()) throw new IllegalArgumentException("name must not be blank");
    }

    /** The pipeline with its own ControlNet, if it has one. */
    public DiffusionOptions(Path modelDir, Path cacheDir, int threads, String name) {
        this(modelDir, cacheDir, threads, name, null);
    }

    /** Served under the directory's name. */
    public DiffusionOptions(Path modelDir, Path cacheDir, int threads) {
        this(modelDir, cacheDir, threads, modelDir.toAbsolutePath().normalize().getFileName().toString());
    }

    /** These options with {@code dir} as the ControlNet. */
    public DiffusionOptions withControlNet(@Nullable Path dir) {
        return new DiffusionOptions(modelDir, cacheDir, threads, name, dir);
    }
}
