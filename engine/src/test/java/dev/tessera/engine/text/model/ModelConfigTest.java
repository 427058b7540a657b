package dev.tessera.engine.text.model;

import dev.tessera.engine.checkpoint.CheckpointException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ModelConfigTest {
    @TempDir
    Path dir;

    ModelConfig load(String config, String generation) throws IOException {
        Files.writeString(dir.resolve("config.json"), config);
        if (generation != null) Files.writeString(dir.resolve("generation_config.json"), generation);
        return ModelConfig.load(dir);
    }

    @Test
    void legacyLlamaConfigWithDefaults() throws IOException {
        ModelConfig c = load("""
                {"architectures": ["LlamaForCausalLM"], "hidden_size": 64, "intermediate_size": 128,
                 "num_hidden_layers": 2, "num_attention_heads": 8, "vocab_size": 100, "eos_token_id": 2,
                 "bos_token_id": 1, "rope_scaling": null}""", null);
        assertEquals(8, c.numKvHeads(), "num_key_value_heads defaults to num_attention_heads");
        assertEquals(8, c.headDim(), "head_dim defaults to hidden / heads");
        assertEquals(10000.0, c.ropeTheta());
        assertEquals(1e-6, c.rmsNormEps());
        assertEquals(RopeScaling.NONE, c.ropeScaling());
        assertArrayEquals(new int[] {2}, c.eosTokenIds());
        assertFalse(c.qkvBias());
        assertFalse(c.tieWordEmbeddings());
    }

    @Test
    void generationConfigEosListWinsAndQwen2HasQkvBias() throws IOException {
        ModelConfig c = load("""
                {"architectures": ["Qwen2ForCausalLM"], "hidden_size": 64, "intermediate_size": 128,
                 "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2, "vocab_size": 100,
                 "eos_token_id": 2, "rope_theta": 1000000.0, "tie_word_embeddings": true,
                 "use_sliding_window": false, "sliding_window": 4096, "max_position_embeddings": 32768}""",
                """
                {"eos_token_id": [2, 7], "bos_token_id": 1}""");
        assertArrayEquals(new int[] {2, 7}, c.eosTokenIds());
        assertEquals(1, c.bosTokenId());
        assertTrue(c.qkvBias());
        assertFalse(c.oBias());
        assertTrue(c.tieWordEmbeddings());
        assertEquals(1e6, c.ropeTheta());
        assertEquals(32768, c.maxPositionEmbeddings(), "Qwen2 ignores sliding_window unless use_sliding_window");
        ModelInfo info = c.toInfo("q", 1024);
        assertEquals(1024, info.maxModelLen());
    }

    @Test
    void qwen3HasPerHeadQkNormsAndBiasesOnlyWithAttentionBias() throws IOException {
        ModelConfig c = load("""
                {"architectures": ["Qwen3ForCausalLM"], "hidden_size": 64, "intermediate_size": 128,
                 "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2, "head_dim": 32,
                 "vocab_size": 100, "attention_bias": false, "use_sliding_window": false, "sliding_window": 16,
                 "max_position_embeddings": 4096, "rope_parameters": {"rope_type": "default", "rope_theta": 1e6}}""",
                null);
        assertTrue(c.qkNorm());
        assertFalse(c.qkvBias());
        assertFalse(c.oBias());
        assertFalse(c.mrope());
        assertEquals(128, c.qDim(), "head_dim 32 x 4 heads, not the hidden size");
        assertEquals(4096, c.maxPositionEmbeddings(), "Qwen3 ignores sliding_window unless use_sliding_window");
        ModelConfig biased = load("""
                {"architectures": ["Qwen3ForCausalLM"], "hidden_size": 64, "intermediate_size": 128,
                 "num_hidden_layers": 2, "num_attention_heads": 4, "vocab_size": 100, "attention_bias": true}""",
                null);
        assertTrue(biased.qkvBias());
        assertTrue(biased.oBias(), "Qwen3's o_proj has a bias with attention_bias");
        assertFalse(biased.mlpBias());
    }

    @Test
    void qwen3VlDecoderHasInterleavedMrope() throws IOException {
        ModelConfig c = load("""
                {"architectures": ["Qwen3VLForConditionalGeneration"], "tie_word_embeddings": true,
                 "text_config": {"hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 3,
                   "num_attention_heads": 4, "num_key_value_heads": 2, "head_dim": 32, "vocab_size": 100,
                   "rope_parameters": {"rope_type": "default", "rope_theta": 5000000.0, "mrope_section": [6, 5, 5],
                                       "mrope_interleaved": true}}}""", null);
        assertTrue(c.qkNorm());
        assertTrue(c.mropeInterleaved());
        assertArrayEquals(new int[] {6, 5, 5}, c.mropeSection());
        assertTrue(c.tieWordEmbeddings(), "tie_word_embeddings from the top level");
        CheckpointException bad = assertThrows(CheckpointException.class, () -> load("""
                {"architectures": ["Qwen3VLForConditionalGeneration"],
                 "text_config": {"hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 3,
                   "num_attention_heads": 4, "head_dim": 32, "vocab_size": 100,
                   "rope_parameters": {"rope_type": "default", "mrope_section": [6, 5, 6]}}}""", null));
        assertTrue(bad.getMessage().contains("mrope_section"), bad.getMessage());
    }

    @Test
    void llama3RopeScalingKeepsHighFrequenciesAndDividesLowOnes() throws IOException {
        ModelConfig c = load("""
                {"architectures": ["LlamaForCausalLM"], "hidden_size": 256, "intermediate_size": 128,
                 "num_hidden_layers": 1, "num_attention_heads": 2, "vocab_size": 100, "rope_theta": 500000.0,
                 "rope_scaling": {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                                  "high_freq_factor": 4.0, "original_max_position_embeddings": 8192}}""", null);
        float[] plain = RopeScaling.NONE.inverseFrequencies(500000.0, 128);
        float[] scaled = c.ropeScaling().inverseFrequencies(c.ropeTheta(), c.headDim());
        assertEquals(plain[0], scaled[0], "high frequency unchanged");
        assertEquals(plain[63] / 8, scaled[63], 1e-12, "low frequency divided by factor");
    }

    @Test
    void mistralSlidingWindowCapsTheModelLength() throws IOException {
        ModelConfig c = load("""
                {"architectures": ["MistralForCausalLM"], "hidden_size": 64, "intermediate_size": 128,
                 "num_hidden_layers": 1, "num_attention_heads": 4, "num_key_value_heads": 1, "vocab_size": 100,
                 "sliding_window": 4096, "max_position_embeddings": 32768}""", null);
        assertEquals(4096, c.maxPositionEmbeddings());
    }

    @Test
    void rejectsWhatItCannotServe() {
        String base = """
                {"architectures": ["LlamaForCausalLM"], "hidden_size": 64, "intermediate_size": 128,
                 "num_hidden_layers": 1, "num_attention_heads": 4, "vocab_size": 100 %s}""";
        assertRejected(base.formatted(", \"num_key_value_heads\": 3"), "not a multiple");
        assertRejected(base.formatted(", \"hidden_act\": \"gelu\""), "hidden_act gelu");
        assertRejected(base.formatted(", \"rope_scaling\": {\"type\": \"dynamic\", \"factor\": 2.0}"), "dynamic");
        assertRejected(base.formatted(", \"eos_token_id\": 100"), "eos_token_id 100");
        assertRejected(base.formatted(", \"num_hidden_layers\": 0").replace("\"num_hidden_layers\": 1,", ""),
                "num_hidden_layers");
        assertRejected("[1, 2]", "not a JSON object");
    }

    private void assertRejected(String config, String expected) {
        CheckpointException e = assertThrows(CheckpointException.class, () -> load(config, null));
        assertTrue(e.getMessage().contains("config.json") && e.getMessage().contains(expected), e.getMessage());
    }
}
