package dev.tessera.engine.diffusion;

import dev.tessera.builtin.SafetensorsWriter;
import dev.tessera.engine.checkpoint.CheckpointException;
import dev.tessera.engine.checkpoint.SafeTensorsFile;
import dev.tessera.engine.checkpoint.TensorInfo;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** A bad pipeline fails at load, naming the file (and the tensor or config key). */
class DiffusionCheckpointTest {
    private static final String UNET = "unet/diffusion_pytorch_model.safetensors";

    @TempDir
    Path tmp;

    private Path copy() throws IOException {
        Path dst = tmp.resolve("sd");
        try (Stream<Path> files = Files.walk(SdFixtures.PIPELINE)) {
            for (Path f : files.toList()) {
                Path to = dst.resolve(SdFixtures.PIPELINE.relativize(f).toString());
                if (Files.isDirectory(f)) {
                    Files.createDirectories(to);
                } else {
                    Files.copy(f, to);
                }
            }
        }
        return dst;
    }

    /** Rewrites the UNet's safetensors without {@code drop}, and with {@code reshape} given a wrong shape. */
    private static void rewriteUnet(Path dir, String drop, String reshape) throws IOException {
        Path file = dir.resolve(UNET);
        List<SafetensorsWriter.Tensor> out = new ArrayList<>();
        try (SafeTensorsFile f = SafeTensorsFile.open(file)) {
            for (Map.Entry<String, TensorInfo> e : f.tensors().entrySet()) {
                if (e.getKey().equals(drop)) continue;
                float[] values = f.readFloats(e.getValue());
                long[] shape = e.getKey().equals(reshape) ? new long[] {values.length} : e.getValue().shape();
                int[] at = {0};
                out.add(new SafetensorsWriter.Tensor(e.getKey(), shape, (chunk, count) -> {
                    System.arraycopy(values, at[0], chunk, 0, count);
                    at[0] += count;
                }));
            }
        }
        Files.delete(file);
        SafetensorsWriter.writeF32(file, out, Map.of("format", "pt"));
    }

    private CheckpointException load(Path dir) {
        return assertThrows(CheckpointException.class,
                () -> DiffusionEngine.load(new DiffusionOptions(dir, tmp.resolve("cache"), 1)).close());
    }

    @Test
    void aMissingTensorNamesTheFileAndTensor() throws IOException {
        Path dir = copy();
        String name = "down_blocks.1.attentions.0.transformer_blocks.0.attn2.to_k.weight";
        rewriteUnet(dir, name, "");
        CheckpointException e = load(dir);
        assertTrue(e.getMessage().contains("diffusion_pytorch_model.safetensors"), e.getMessage());
        assertEquals(name, e.tensor());
        assertTrue(e.getMessage().contains("missing tensor"), e.getMessage());
        assertTrue(Files.notExists(tmp.resolve("cache/graphs")) || isEmptyOfGraphs(tmp.resolve("cache/graphs")),
                "nothing half-converted is left in the cache");
    }

    @Test
    void aWrongShapeNamesTheTensorAndBothShapes() throws IOException {
        Path dir = copy();
        rewriteUnet(dir, "", "conv_in.weight");
        CheckpointException e = load(dir);
        assertEquals("conv_in.weight", e.tensor());
        assertTrue(e.getMessage().contains("wrong shape"), e.getMessage());
    }

    @Test
    void anUnsupportedConfigNamesTheFileAndKey() throws IOException {
        Path dir = copy();
        Path config = dir.resolve("unet/config.json");
        Files.writeString(config, Files.readString(config).replace("\"addition_embed_type\": null",
                "\"addition_embed_type\": \"text_time\""));
        CheckpointException e = load(dir);
        assertTrue(e.getMessage().contains("unet/config.json") && e.getMessage().contains("addition_embed_type"),
                e.getMessage());
    }

    @Test
    void anUnsupportedPipelineOrAMissingComponentNamesModelIndex() throws IOException {
        Path dir = copy();
        Path index = dir.resolve("model_index.json");
        String original = Files.readString(index);
        Files.writeString(index, original.replace("\"StableDiffusionPipeline\"", "\"FluxPipeline\""));
        CheckpointException e = load(dir);
        assertTrue(e.getMessage().contains("model_index.json") && e.getMessage().contains("FluxPipeline"),
                e.getMessage());
        Files.writeString(index, original);
        Files.delete(dir.resolve("vae/config.json"));
        e = load(dir);
        assertTrue(e.getMessage().contains("vae/config.json"), e.getMessage());
    }

    private static boolean isEmptyOfGraphs(Path graphs) throws IOException {
        try (Stream<Path> s = Files.list(graphs)) {
            return s.findAny().isEmpty();
        }
    }
}
