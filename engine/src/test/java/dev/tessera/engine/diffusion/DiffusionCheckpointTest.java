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
    private static final String CONTROLNET_WEIGHTS = "diffusion_pytorch_model.safetensors";

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
        rewrite(dir.resolve(UNET), drop, reshape);
    }

    private static void rewrite(Path file, String drop, String reshape) throws IOException {
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

    /** A copy of the fixture ControlNet in {@code tmp/<name>}. */
    private Path copyControlNet(Path to) throws IOException {
        Files.createDirectories(to);
        for (String f : List.of("config.json", CONTROLNET_WEIGHTS)) {
            Files.copy(SdFixtures.CONTROLNET.resolve(f), to.resolve(f));
        }
        return to;
    }

    private CheckpointException loadWithControlNet(Path dir, Path controlNet) {
        return assertThrows(CheckpointException.class, () -> DiffusionEngine.load(
                new DiffusionOptions(dir, tmp.resolve("cache"), 1, "sd").withControlNet(controlNet)).close());
    }

    @Test
    void aControlNetMissingATensorNamesItsFileAndTheTensor() throws IOException {
        Path cn = copyControlNet(tmp.resolve("cn"));
        String name = "controlnet_down_blocks.3.weight";
        rewrite(cn.resolve(CONTROLNET_WEIGHTS), name, "");
        CheckpointException e = loadWithControlNet(SdFixtures.PIPELINE, cn);
        assertTrue(e.getMessage().contains("cn/" + CONTROLNET_WEIGHTS), e.getMessage());
        assertEquals(name, e.tensor());
        assertTrue(e.getMessage().contains("missing tensor"), e.getMessage());
    }

    @Test
    void aControlNetTensorOfTheWrongShapeNamesIt() throws IOException {
        Path cn = copyControlNet(tmp.resolve("cn"));
        rewrite(cn.resolve(CONTROLNET_WEIGHTS), "", "controlnet_cond_embedding.conv_in.weight");
        CheckpointException e = loadWithControlNet(SdFixtures.PIPELINE, cn);
        assertEquals("controlnet_cond_embedding.conv_in.weight", e.tensor());
        assertTrue(e.getMessage().contains("wrong shape"), e.getMessage());
    }

    @Test
    void aControlNetThatDoesNotFitTheUnetNamesItsConfigAndKey() throws IOException {
        Path cn = copyControlNet(tmp.resolve("cn"));
        Path config = cn.resolve("config.json");
        String original = Files.readString(config);
        Files.writeString(config, original.replace("\"layers_per_block\": 2", "\"layers_per_block\": 1"));
        CheckpointException e = loadWithControlNet(SdFixtures.PIPELINE, cn);
        assertTrue(e.getMessage().contains("cn/config.json") && e.getMessage().contains("layers_per_block"),
                e.getMessage());
        Files.writeString(config, original.replace("\"conditioning_embedding_out_channels\": [\n    16,\n    32\n  ]",
                "\"conditioning_embedding_out_channels\": [16, 32, 64]"));
        e = loadWithControlNet(SdFixtures.PIPELINE, cn);
        assertTrue(e.getMessage().contains("conditioning_embedding_out_channels"), e.getMessage());
        Files.writeString(config, original.replace("\"global_pool_conditions\": false",
                "\"global_pool_conditions\": true"));
        e = loadWithControlNet(SdFixtures.PIPELINE, cn);
        assertTrue(e.getMessage().contains("global_pool_conditions"), e.getMessage());
        Files.delete(config);
        e = loadWithControlNet(SdFixtures.PIPELINE, cn);
        assertTrue(e.getMessage().contains("cn/config.json") && e.getMessage().contains("missing"), e.getMessage());
    }

    @Test
    void aPipelineCarryingItsOwnControlNetFolderServesIt() throws IOException {
        Path dir = copy();
        copyControlNet(dir.resolve("controlnet"));
        Path index = dir.resolve("model_index.json");
        Files.writeString(index, Files.readString(index).replace("\"StableDiffusionPipeline\"",
                "\"StableDiffusionControlNetPipeline\"").replace("\"unet\": [", "\"controlnet\": [\"diffusers\", "
                + "\"ControlNetModel\"],\n  \"unet\": ["));
        try (DiffusionEngine e = DiffusionEngine.load(new DiffusionOptions(dir, tmp.resolve("cache"), 1))) {
            assertTrue(e.hasControlNet());
        }
        try (DiffusionEngine e = DiffusionEngine.load(new DiffusionOptions(SdFixtures.PIPELINE, tmp.resolve("cache"),
                1))) {
            assertTrue(!e.hasControlNet());
        }
        // named in model_index.json but missing: refused naming the folder's config
        deleteTree(dir.resolve("controlnet"));
        CheckpointException e = load(dir);
        assertTrue(e.getMessage().contains("controlnet/config.json"), e.getMessage());
    }

    private static void deleteTree(Path p) throws IOException {
        try (Stream<Path> s = Files.walk(p)) {
            for (Path f : s.sorted(java.util.Comparator.reverseOrder()).toList()) Files.delete(f);
        }
    }

    private static boolean isEmptyOfGraphs(Path graphs) throws IOException {
        try (Stream<Path> s = Files.list(graphs)) {
            return s.findAny().isEmpty();
        }
    }
}
