package dev.tessera.engine.diffusion;

import java.nio.file.Path;
import java.util.Objects;

/**
 * How to load a diffusion pipeline.
 *
 * @param modelDir a diffusers pipeline directory ({@code model_index.json})
 * @param cacheDir where converted graphs are cached ({@code cacheDir/graphs/sd-<key>/})
 * @param threads  ONNX Runtime intra-op threads per graph
 */
public record DiffusionOptions(Path modelDir, Path cacheDir, int threads) {
    public DiffusionOptions {
        Objects.requireNonNull(modelDir, "modelDir");
        Objects.requireNonNull(cacheDir, "cacheDir");
        if (threads < 1) throw new IllegalArgumentException("threads must be >= 1, not " + threads);
    }
}
