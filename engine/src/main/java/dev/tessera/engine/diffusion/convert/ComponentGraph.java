package dev.tessera.engine.diffusion.convert;

import dev.tessera.engine.checkpoint.Checkpoint;
import dev.tessera.engine.onnx.GraphBuilder;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.function.Consumer;

/** Writes one component's graph ({@code name.onnx}) and its weights ({@code name.bin}) into a directory. */
public final class ComponentGraph {
    /** Names the converter version in each graph's metadata. */
    public static final String VERSION = "tessera-diffusion-2";

    private ComponentGraph() {
    }

    /**
     * Builds {@code dir/name.onnx} with {@code body} over checkpoint {@code ck}; its weights go to {@code dir/name.bin}.
     *
     * @return the graph file
     */
    public static Path write(Checkpoint ck, Path dir, String name, Consumer<Layers> body) {
        Path onnx = dir.resolve(name + ".onnx");
        GraphBuilder g = new GraphBuilder(name).opset("", Layers.OPSET).opset(Layers.MS_DOMAIN, 1)
                .metadata("tessera.converter", VERSION);
        try (WeightFile weights = new WeightFile(dir.resolve(name + ".bin"), ck)) {
            body.accept(new Layers(g, ck, weights));
        }
        try {
            Files.write(onnx, g.toBytes());
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + onnx, e);
        }
        return onnx;
    }
}
