package dev.tessera.engine.vision;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tessera.engine.checkpoint.CheckpointException;
import dev.tessera.engine.text.TextEngine;
import dev.tessera.engine.text.TextEngineOptions;
import dev.tessera.engine.text.model.ModelConfig;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.function.Consumer;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The vision side of Qwen-VL configs: {@link VisionConfig} on the published Qwen2.5-VL layout
 * (Qwen2.5-VL-7B-Instruct's {@code config.json}: decoder keys at the top level, {@code rope_scaling.type: mrope},
 * {@code in_chans}), on the transformers 5 layout of the fixtures (Qwen2-VL, Qwen2.5-VL, Qwen3-VL), and the refusals
 * of bad configs, each naming the key.
 */
class VisionConfigTest {
    static final ObjectMapper JSON = new ObjectMapper();
    /** Qwen/Qwen2.5-VL-7B-Instruct's config.json (transformers 4.x layout). */
    static final String PUBLISHED = """
            {"architectures": ["Qwen2_5_VLForConditionalGeneration"], "attention_dropout": 0.0,
             "bos_token_id": 151643, "eos_token_id": 151645, "vision_start_token_id": 151652,
             "vision_end_token_id": 151653, "vision_token_id": 151654, "image_token_id": 151655,
             "video_token_id": 151656, "hidden_act": "silu", "hidden_size": 3584, "initializer_range": 0.02,
             "intermediate_size": 18944, "max_position_embeddings": 128000, "max_window_layers": 28,
             "model_type": "qwen2_5_vl", "num_attention_heads": 28, "num_hidden_layers": 28,
             "num_key_value_heads": 4, "rms_norm_eps": 1e-06, "rope_theta": 1000000.0, "sliding_window": 32768,
             "tie_word_embeddings": false, "torch_dtype": "bfloat16", "use_cache": true, "use_sliding_window": false,
             "vision_config": {"depth": 32, "hidden_act": "silu", "hidden_size": 1280, "intermediate_size": 3420,
               "num_heads": 16, "in_chans": 3, "out_hidden_size": 3584, "patch_size": 14, "spatial_merge_size": 2,
               "spatial_patch_size": 14, "window_size": 112, "fullatt_block_indexes": [7, 15, 23, 31],
               "tokens_per_second": 2, "temporal_patch_size": 2},
             "rope_scaling": {"type": "mrope", "mrope_section": [16, 24, 24]}, "vocab_size": 152064}
            """;

    @TempDir
    Path dir;

    ObjectNode published() throws IOException {
        return (ObjectNode) JSON.readTree(PUBLISHED);
    }

    Path write(ObjectNode config) throws IOException {
        Files.writeString(dir.resolve("config.json"), JSON.writeValueAsString(config));
        return dir;
    }

    @Test
    void readsThePublishedQwen25Layout() throws IOException {
        Path d = write(published());
        VisionConfig c = VisionConfig.load(d);
        assertEquals(VisionFamily.QWEN2_5_VL, c.family());
        assertEquals(1280, c.embedDim());
        assertEquals(32, c.depth());
        assertEquals(16, c.numHeads());
        assertEquals(3420, c.mlpHidden());
        assertEquals(3584, c.outHidden());
        assertEquals("silu", c.hiddenAct());
        assertEquals(3, c.inChannels());
        assertEquals(151655, c.imageTokenId());
        assertEquals(new WindowAttention(112, new int[] {7, 15, 23, 31}), c.windows());
        assertEquals(4, c.windows().mergedWindow(c.patchSize(), c.mergeSize()));
        assertTrue(c.windows().fullAttention(31));
        ModelConfig decoder = ModelConfig.load(d);
        assertEquals(3584, decoder.hiddenSize());
        assertArrayEquals(new int[] {16, 24, 24}, decoder.mropeSection());
        assertTrue(decoder.qkvBias(), "a Qwen2 decoder: q/k/v biases");
        assertFalse(decoder.oBias() || decoder.mlpBias() || decoder.qkNorm() || decoder.mropeInterleaved());
        assertEquals(128000, decoder.maxPositionEmbeddings(), "sliding_window (unused: use_sliding_window false)");
    }

    @Test
    void readsTheTransformers5LayoutOfTheFixtures() {
        VisionConfig qwen25 = VisionConfig.load(Qwen25VlConformanceTest.FIXTURE);
        assertEquals(new WindowAttention(56, new int[] {1}), qwen25.windows());
        VisionConfig qwen2 = VisionConfig.load(Qwen2VlConformanceTest.FIXTURE);
        assertEquals(VisionFamily.QWEN2_VL, qwen2.family());
        assertNull(qwen2.windows());
        assertEquals(64, qwen2.mlpHidden());
    }

    @Test
    void badQwen25VisionConfigsAreRefusedNamingTheKey() throws IOException {
        ObjectNode c = published();
        ((ObjectNode) c.get("vision_config")).putArray("fullatt_block_indexes").add(7).add(32);
        refused(c, "fullatt_block_indexes[1]");

        c = published();
        ((ObjectNode) c.get("vision_config")).put("window_size", 20);
        refused(c, "window_size");

        c = published();
        ((ObjectNode) c.get("vision_config")).put("out_hidden_size", 2048);
        refused(c, "out_hidden_size");

        c = published();
        ((ObjectNode) c.get("vision_config")).put("hidden_act", "gelu");
        refused(c, "hidden_act");

        c = published();
        ((ObjectNode) c.get("vision_config")).remove("intermediate_size");
        refused(c, "intermediate_size");
    }

    @Test
    void allThreeFamiliesAreServedAndNoneIsRefused() {
        for (VisionFamily f : VisionFamily.values()) {
            assertTrue(VisionConfig.ARCHITECTURES.contains(f.architecture()), f.architecture());
            assertTrue(VisionConfig.isVisionLanguage(f.architecture()), f.architecture());
            assertEquals(f, VisionFamily.of(f.architecture()));
        }
        assertEquals(3, VisionConfig.ARCHITECTURES.size());
        assertTrue(VisionConfig.REFUSED.isEmpty(), VisionConfig.REFUSED.toString());
        assertFalse(VisionConfig.isVisionLanguage("Qwen2ForCausalLM"));
    }

    @Test
    void aTowersAdditionsMustMatchItsFamily() {
        WindowAttention windows = new WindowAttention(112, new int[] {1});
        Qwen3VisionSpec spec = VisionConfig.load(Qwen3VlConformanceTest.FIXTURE).qwen3();
        assertThrows(IllegalArgumentException.class, () -> new VisionConfig(32, 2, 2, 64, "quick_gelu", 64, 14, 2, 2,
                3, 1, 2, 3, 10000.0, VisionFamily.QWEN2_VL, windows, null));
        assertThrows(IllegalArgumentException.class, () -> new VisionConfig(32, 2, 2, 64, "quick_gelu", 64, 14, 2, 2,
                3, 1, 2, 3, 10000.0, VisionFamily.QWEN2_VL, null, spec));
        assertThrows(IllegalArgumentException.class, () -> new VisionConfig(32, 2, 2, 64, "gelu", 64, 16, 2, 2,
                3, 1, 2, 3, 10000.0, VisionFamily.QWEN3_VL, null, null));
    }

    CheckpointException refused(ObjectNode config, String mentions) throws IOException {
        Path d = write(config);
        CheckpointException e = assertThrows(CheckpointException.class, () -> VisionConfig.load(d));
        assertTrue(e.getMessage().contains(mentions), e.getMessage());
        assertTrue(e.getMessage().contains("config.json"), e.getMessage());
        return e;
    }

    @Test
    void qwen3VlIsServedWithItsPositionTableAndDeepStack() {
        VisionConfig c = VisionConfig.load(Qwen3VlConformanceTest.FIXTURE);
        assertTrue(VisionConfig.ARCHITECTURES.contains("Qwen3VLForConditionalGeneration"));
        assertFalse(VisionConfig.REFUSED.contains("Qwen3VLForConditionalGeneration"));
        assertEquals(VisionFamily.QWEN3_VL, c.family());
        assertNull(c.windows());
        assertNotNull(c.qwen3());
        assertEquals(36, c.qwen3().numPositionEmbeddings());
        assertEquals(6, c.qwen3().side());
        assertArrayEquals(new int[] {1, 2}, c.qwen3().deepstackIndexes());
        assertEquals(0, c.qwen3().deepstackOf(1));
        assertEquals(-1, c.qwen3().deepstackOf(0));
        assertEquals(32, c.embedDim(), "Qwen3-VL's hidden_size is the tower's width");
        assertEquals(64, c.outHidden());
        assertEquals(16, c.patchSize());
        assertEquals("gelu_pytorch_tanh", c.hiddenAct());
        assertEquals(3, c.featureSets());
        assertEquals(3 * 64, c.embeddingWidth());
    }

    @Test
    void badQwen3VisionConfigsAreRefusedNamingTheField() throws IOException {
        Path outOfRange = copyWithConfig(c -> ((ObjectNode) c.get("vision_config"))
                .putArray("deepstack_visual_indexes").add(1).add(3));
        CheckpointException e = assertThrows(CheckpointException.class, () -> VisionConfig.load(outOfRange));
        assertTrue(e.getMessage().contains("deepstack_visual_indexes"), e.getMessage());
        Path notSquare = copyWithConfig(c -> ((ObjectNode) c.get("vision_config")).put("num_position_embeddings", 35));
        e = assertThrows(CheckpointException.class, () -> VisionConfig.load(notSquare));
        assertTrue(e.getMessage().contains("num_position_embeddings"), e.getMessage());
        Path width = copyWithConfig(c -> ((ObjectNode) c.get("vision_config")).put("out_hidden_size", 32));
        e = assertThrows(CheckpointException.class, () -> VisionConfig.load(width));
        assertTrue(e.getMessage().contains("out_hidden_size"), e.getMessage());
    }

    @Test
    void moreDeepStackLayersThanTheDecoderCanTakeAreRefusedAtLoad() throws IOException {
        // three DeepStack features for a 3-layer decoder: the last layer's output is never a segment boundary
        Path d = copyWithConfig(c -> {
            ArrayNode ds = ((ObjectNode) c.get("vision_config")).putArray("deepstack_visual_indexes");
            ds.add(0).add(1).add(2);
        });
        CheckpointException e = assertThrows(CheckpointException.class, () -> TextEngine.load(
                TextEngineOptions.defaults(d).withCacheDir(dir.resolve("cache")).withThreads(1)
                        .withKvMemoryBytes(1L << 20)));
        assertTrue(e.getMessage().contains("DeepStack"), e.getMessage());
    }

    @Test
    void aPreprocessorConfigWhosePatchSizeDiffersFromTheTowersIsRefused() throws IOException {
        Path d = copyWithConfig(c -> { });
        Path pre = d.resolve(ImageProcessorConfig.FILE);
        ObjectNode p = (ObjectNode) JSON.readTree(pre.toFile());
        p.put("patch_size", 14);
        Files.writeString(pre, p.toString());
        CheckpointException e = assertThrows(CheckpointException.class, () -> TextEngine.load(
                TextEngineOptions.defaults(d).withCacheDir(dir.resolve("cache")).withThreads(1)
                        .withKvMemoryBytes(1L << 20)));
        assertTrue(e.getMessage().contains("patch_size"), e.getMessage());
    }

    /** A copy of the Qwen3-VL fixture with {@code edit} applied to its {@code config.json}. */
    Path copyWithConfig(Consumer<ObjectNode> edit) throws IOException {
        Path d = Files.createTempDirectory(dir, "ckpt");
        try (Stream<Path> files = Files.list(Qwen3VlConformanceTest.FIXTURE)) {
            for (Path f : (Iterable<Path>) files::iterator) {
                String name = f.getFileName().toString();
                if (name.endsWith(".bin") || name.equals("golden.json")) continue;
                Files.copy(f, d.resolve(name));
            }
        }
        ObjectNode config = (ObjectNode) JSON.readTree(d.resolve("config.json").toFile());
        edit.accept(config);
        Files.writeString(d.resolve("config.json"), config.toString());
        return d;
    }
}
