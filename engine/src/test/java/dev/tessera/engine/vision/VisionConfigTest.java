package dev.tessera.engine.vision;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tessera.engine.checkpoint.CheckpointException;
import dev.tessera.engine.text.model.ModelConfig;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link VisionConfig} on the published Qwen2.5-VL layout (Qwen2.5-VL-7B-Instruct's {@code config.json}: decoder keys
 * at the top level, {@code rope_scaling.type: mrope}, {@code in_chans}), on the transformers 5 layout of the fixtures,
 * and the refusals, each naming the key.
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
    void qwen3VlIsStillRefusedNamingWhatIsMissing() throws IOException {
        ObjectNode c = published();
        c.putArray("architectures").add("Qwen3VLForConditionalGeneration");
        CheckpointException e = refused(c, "Qwen3-VL is not supported");
        assertTrue(e.getMessage().contains("DeepStack"), e.getMessage());
        assertTrue(VisionConfig.isVisionLanguage("Qwen3VLForConditionalGeneration"));
        assertTrue(VisionConfig.ARCHITECTURES.contains("Qwen2_5_VLForConditionalGeneration"));
    }

    CheckpointException refused(ObjectNode config, String mentions) throws IOException {
        Path d = write(config);
        CheckpointException e = assertThrows(CheckpointException.class, () -> VisionConfig.load(d));
        assertTrue(e.getMessage().contains(mentions), e.getMessage());
        assertTrue(e.getMessage().contains("config.json"), e.getMessage());
        return e;
    }
}
