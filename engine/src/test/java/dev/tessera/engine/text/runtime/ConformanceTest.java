package dev.tessera.engine.text.runtime;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tessera.engine.attention.PagedAttention;
import dev.tessera.engine.checkpoint.Checkpoint;
import dev.tessera.engine.text.convert.SegmentConverter;
import dev.tessera.engine.text.model.ModelConfig;
import dev.tessera.engine.text.model.ModelInfo;
import dev.tessera.kvcache.KvCacheSpec;
import dev.tessera.kvcache.KvStore;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.io.IOException;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Conformance with Hugging Face transformers (issue 2 §7): each fixture checkpoint, converted to segment graphs and
 * run by {@link OrtModelExecutor} with Java attention over the paged cache, reproduces the goldens recorded by
 * {@code tools/make_fixtures.py}: last-position logits within 1e-3 and 32 identical greedy tokens.
 */
class ConformanceTest {
    static final Path FIXTURES = Path.of("src/test/resources/fixtures");

    @TempDir
    Path cache;

    @ParameterizedTest
    @CsvSource({"llama-gqa,paged", "llama-tied,paged", "qwen2-bias,paged", "qwen3-tied,paged", "llama-gqa,reference"})
    void matchesTransformers(String name, String kernel) throws IOException {
        Path dir = FIXTURES.resolve(name);
        JsonNode golden = new ObjectMapper().readTree(dir.resolve("golden.json").toFile());
        ModelConfig config = ModelConfig.load(dir);
        try (Checkpoint ck = Checkpoint.open(dir)) {
            SegmentConverter.Converted graphs = new SegmentConverter(ck, config).convert(cache);
            ModelInfo info = config.toInfo(name, 0);
            KvCacheSpec spec = new KvCacheSpec(info.numLayers(), info.numKvHeads(), info.headDim(), 16);
            KvStore store = new KvStore(spec, 64);
            try (OrtModelExecutor ex = new OrtModelExecutor(info, graphs.segments(), store,
                    kernel.equals("paged") ? new PagedAttention(spec, info.numHeads(), 2)
                            : new ReferenceAttention(info.numHeads(), info.numKvHeads(), info.headDim()),
                    256, 4, 1)) {
                GreedyRunner runner = new GreedyRunner(ex, store, 256, 4);
                for (JsonNode c : golden.get("cases")) {
                    int[] prompt = ints(c.get("prompt_ids"));
                    float[] expected = floats(c.get("last_logits"));
                    float[] actual = runner.prefill(prompt);
                    double maxErr = 0;
                    for (int i = 0; i < expected.length; i++) {
                        maxErr = Math.max(maxErr, Math.abs(expected[i] - actual[i]));
                    }
                    System.out.printf("%s/%s prompt of %d tokens: logits max abs error %.3g%n", name, kernel,
                            prompt.length, maxErr);
                    assertTrue(maxErr <= 1e-3, name + " '" + c.get("prompt").asText() + "': logits max abs error "
                            + maxErr);
                    int[] greedy = ints(c.get("greedy_ids"));
                    assertArrayEquals(greedy, runner.generate(prompt, greedy.length),
                            name + " '" + c.get("prompt").asText() + "': greedy tokens");
                }
                assertEquals(0, ex.openNativeTensors());
            }
        }
    }

    static int[] ints(JsonNode a) {
        int[] out = new int[a.size()];
        for (int i = 0; i < out.length; i++) out[i] = a.get(i).asInt();
        return out;
    }

    static float[] floats(JsonNode a) {
        float[] out = new float[a.size()];
        for (int i = 0; i < out.length; i++) out[i] = (float) a.get(i).asDouble();
        return out;
    }
}
