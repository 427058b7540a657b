package dev.tessera.engine.text;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tessera.engine.checkpoint.CheckpointException;
import dev.tessera.builtin.BuiltinModels;
import dev.tessera.engine.text.model.ModelInfo;
import dev.tessera.engine.text.runtime.StepBatch;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The facade: loading a checkpoint directory or a built-in, failing fast on bad ones, and closing cleanly. */
class TextEngineTest {
    static final Path FIXTURES = Path.of("src/test/resources/fixtures");

    @TempDir
    Path cache;

    TextEngineOptions options(Path model) {
        return TextEngineOptions.defaults(model).withCacheDir(cache).withThreads(2)
                .withKvMemoryBytes(8L << 20).withMaxBatchTokens(128).withMaxSeqs(8);
    }

    @Test
    void loadsACheckpointDirectoryAndReproducesItsGreedyTokens() throws IOException {
        Path dir = FIXTURES.resolve("qwen2-bias");
        JsonNode golden = new ObjectMapper().readTree(dir.resolve("golden.json").toFile()).get("cases").get(0);
        try (TextEngine engine = TextEngine.load(options(dir))) {
            ModelInfo info = engine.info();
            assertEquals("qwen2-bias", info.name());
            assertEquals("Qwen2ForCausalLM", info.architecture());
            assertArrayEquals(new int[] {2}, info.eosTokenIds());
            assertEquals(1024, info.maxModelLen());
            assertEquals(16, engine.kvSpec().blockSize());
            assertTrue(engine.kvStore().numBlocks() > 0);

            int[] prompt = engine.tokenizer().encode(golden.get("prompt").asText(), true);
            assertArrayEquals(ints(golden.get("prompt_ids")), prompt);
            int[] expected = ints(golden.get("greedy_ids"));
            assertArrayEquals(expected, greedy(engine, prompt, expected.length));
            assertEquals(0, engine.executor().openNativeTensors());
            assertTrue(engine.executor().timings().steps() >= expected.length);
        }
    }

    /**
     * A GPTQ checkpoint serves through the facade at the serving accuracy level (int8 activations, whose logits
     * PreQuantizedConformanceTest bounds; its exact tokens are pinned there at fp32 compute), and asking to quantize
     * it again is an invalid option.
     */
    @Test
    void loadsAPreQuantizedCheckpointAndRefusesQuantizingItAgain() {
        Path dir = FIXTURES.resolve("gptq-desc-act");
        try (TextEngine engine = TextEngine.load(options(dir))) {
            assertEquals("LlamaForCausalLM", engine.info().architecture());
            int[] prompt = engine.tokenizer().encode("Hello", true);
            assertEquals(8, greedy(engine, prompt, 8).length);
            assertEquals(0, engine.executor().openNativeTensors());
        }
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> TextEngine.load(
                options(dir).withQuantization(dev.tessera.engine.text.quant.WeightQuantization.parse("int4"))));
        assertTrue(e.getMessage().contains("already quantized"), e.getMessage());
    }

    @Test
    void loadsTheBuiltinTinyModelAndReusesItsGraphs() {
        try (TextEngine engine = TextEngine.load(options(BuiltinModels.materialize("tiny", cache)).withName("tiny"))) {
            assertEquals("tiny", engine.info().name());
            int[] prompt = engine.tokenizer().encode("Hello, world", true);
            assertEquals(4, greedy(engine, prompt, 4).length);
        }
        // Second load: same checkpoint and converted graphs from the cache.
        try (TextEngine engine = TextEngine.load(options(BuiltinModels.materialize("tiny", cache)).withName("tiny"))) {
            assertEquals("tiny", engine.info().name());
        }
    }

    @Test
    void badCheckpointFailsAtLoadNamingFileAndTensor() throws IOException {
        Path dir = cache.resolve("broken");
        Files.createDirectories(dir);
        try (Stream<Path> files = Files.list(FIXTURES.resolve("llama-gqa"))) {
            for (Path f : files.toList()) Files.copy(f, dir.resolve(f.getFileName()));
        }
        Path index = dir.resolve("model.safetensors.index.json");
        Files.writeString(index, Files.readString(index).replace("model.layers.1.self_attn.q_proj.weight",
                "model.layers.1.self_attn.q_proj.renamed"));
        CheckpointException e = assertThrows(CheckpointException.class, () -> TextEngine.load(options(dir)));
        assertTrue(e.getMessage().contains("model.safetensors.index.json")
                && e.getMessage().contains("model.layers.1.self_attn.q_proj"), e.getMessage());

        Files.delete(dir.resolve("tokenizer.json"));
        Files.writeString(index, Files.readString(index).replace("model.layers.1.self_attn.q_proj.renamed",
                "model.layers.1.self_attn.q_proj.weight"));
        e = assertThrows(CheckpointException.class, () -> TextEngine.load(options(dir)));
        assertTrue(e.getMessage().contains("tokenizer.json"), e.getMessage());
    }

    @Test
    void rejectsAModelLengthBeyondTheConfig() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> TextEngine.load(options(FIXTURES.resolve("llama-tied")).withMaxModelLen(4096)));
        assertTrue(e.getMessage().contains("maxModelLen"), e.getMessage());
    }

    @Test
    void optionsValidateTheirFields() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> TextEngineOptions.defaults(cache).withMaxBatchTokens(0));
        assertTrue(e.getMessage().contains("maxBatchTokens"), e.getMessage());
    }

    /** Greedy generation alone in blocks 0..: prefill, then one token per step. */
    static int[] greedy(TextEngine engine, int[] prompt, int n) {
        int bs = engine.kvSpec().blockSize();
        int blocks = (prompt.length + n + bs - 1) / bs;
        int[] table = new int[blocks];
        for (int i = 0; i < blocks; i++) table[i] = i;
        StepBatch batch = new StepBatch(engine.maxBatchTokens(), engine.maxSeqs(), blocks);
        int vocab = engine.info().vocabSize();
        float[] logits = new float[vocab];
        int[] tokens = java.util.Arrays.copyOf(prompt, prompt.length + n);
        int len = prompt.length;
        int[] out = new int[n];
        for (int i = 0; i < n; i++) {
            batch.clear();
            int from = i == 0 ? 0 : len - 1;
            batch.addSequence(tokens, from, len - from, table, blocks, bs, true);
            engine.executor().execute(batch, logits);
            int best = 0;
            for (int v = 1; v < vocab; v++) if (logits[v] > logits[best]) best = v;
            out[i] = best;
            tokens[len++] = best;
        }
        return out;
    }

    static int[] ints(JsonNode a) {
        int[] out = new int[a.size()];
        for (int i = 0; i < out.length; i++) out[i] = a.get(i).asInt();
        return out;
    }
}
