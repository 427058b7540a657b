package dev.tessera.engine.text.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tessera.engine.attention.PagedAttention;
import dev.tessera.engine.checkpoint.Checkpoint;
import dev.tessera.engine.text.convert.SegmentConverter;
import dev.tessera.engine.text.model.ModelConfig;
import dev.tessera.engine.text.model.ModelInfo;
import dev.tessera.kvcache.KvCacheSpec;
import dev.tessera.kvcache.KvDType;
import dev.tessera.kvcache.KvStore;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Arrays;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Accuracy of a 16-bit or int8 KV cache ({@code --kv-dtype bf16|fp16|int8}) against the fp32 cache, same graphs, on
 * the conformance fixtures: at every teacher-forced position of every golden prompt (each position decoded one at a
 * time, so every logit row reads the rounded cache), the largest logit difference, the mean KL divergence of the
 * next-token distributions and the share of positions whose argmax agrees; and the greedy continuations.
 *
 * <p><b>Tolerances, from measurements and the formats' precision.</b> Rounding a K/V element moves it by at most
 * half an ulp: 2^-9 of its size for bf16 (8 significant bits), 2^-12 for fp16 (11 bits; below fp16's normal range,
 * 6e-5, at most 2^-25 absolute). The logits move linearly in those perturbations, so bf16's differences should be
 * about 8x fp16's and the KL divergence, quadratic in them, about 64x. Measured (ORT 1.24.2, 107 teacher-forced
 * positions and 4 greedy runs of 32 tokens per fixture; the printed lines): bf16 max |Δlogit| 0.033 to 0.051, mean
 * KL 1.2e-5 to 1.7e-5, argmax agreement 106 or 107 of 107, greedy tokens identical on 10 of 12 prompts (the other
 * two part after 23 and 27 tokens); fp16 max |Δlogit| 0.0051 to 0.0065, mean KL 2.0e-7 to 2.6e-7, every argmax and
 * every greedy token identical. That is the predicted 8x and 64x. These fixtures are the hard case for argmax: tiny
 * random-weight models whose logits are close together (see {@link QuantizedAccuracyTest}), so bf16's rare flips
 * are expected there and greedy identity is asserted for fp16 only. The bounds are 3x the worst measured difference
 * and KL of each dtype, with a margin under the worst agreement: truncating instead of rounding (twice the error,
 * and biased) or a mis-widened element (an error of the element's own size) fails them; a different but correct
 * summation order does not.
 *
 * <p><b>int8</b> (one fp32 scale per (token, KV head) vector, codes {@code round(x / (max|x| / 127))}): an element
 * moves by at most half a step, {@code max|x| / 254} of its vector, an absolute error where bf16's is relative, so
 * the elements of a vector below its largest lose more than under bf16 (at a quarter of the largest, about 2^-6 of
 * their size against bf16's 2^-9). Measured (same runs): max |Δlogit| 0.070 to 0.112 (2.2x bf16's), mean KL 8.2e-5
 * to 1.2e-4 (about 6x bf16's, the square of that ratio), argmax agreement 103 to 107 of 107, greedy continuations
 * of 32 tokens identical on 9 of 12 prompts (76, 96 and 128 of each fixture's 128 tokens before the first
 * difference). For scale: int8 weights ({@code --quantize int8}, {@link QuantizedAccuracyTest}) measure mean KL
 * 8.5e-4 to 9.8e-4 and argmax 0.925 to 0.981 on these fixtures, so the int8 cache costs about a tenth of what int8
 * weights cost. These fixtures have head dim 16; a head of 128 spreads a scale over 8x the elements (a Gaussian
 * vector's largest element is then about 1.4x further out, so expect about twice the KL there). Bounds: 3x the worst
 * difference, 2.6x the worst KL, agreement 0.9 and greedy 0.4 (under the worst 0.96 and 0.59). Truncating the codes
 * instead of rounding them was measured at KL 2.9e-4 to 3.4e-4 and greedy 40 to 88 of 128, which fails the KL bound
 * on two fixtures and the greedy bound on one: the KL bound is set under 3x so that it does. The rounding itself is
 * pinned exactly against torch by {@code Int8QuantizationTest}, and the kernel's dequantization bit for bit by
 * {@code PagedAttentionTest}; this test is about what the format costs.
 */
class KvDtypeAccuracyTest {
    static final Path FIXTURES = Path.of("src/test/resources/fixtures");

    @TempDir
    Path cache;

    @ParameterizedTest
    @CsvSource({"llama-gqa,bf16,0.15,5e-5,0.97,0.75", "llama-tied,bf16,0.15,5e-5,0.97,0.75",
            "qwen2-bias,bf16,0.15,5e-5,0.97,0.75", "llama-gqa,fp16,0.02,8e-7,1,1", "llama-tied,fp16,0.02,8e-7,1,1",
            "qwen2-bias,fp16,0.02,8e-7,1,1", "llama-gqa,int8,0.35,3e-4,0.9,0.4",
            "llama-tied,int8,0.35,3e-4,0.9,0.4", "qwen2-bias,int8,0.35,3e-4,0.9,0.4"})
    void closeToTheFp32Cache(String name, String kvDtype, double maxLogitDiff, double maxMeanKl, double minTop1,
            double minGreedySame) throws IOException {
        Path dir = FIXTURES.resolve(name);
        JsonNode golden = new ObjectMapper().readTree(dir.resolve("golden.json").toFile());
        KvDType dtype = KvDType.parse(kvDtype);
        ModelConfig config = ModelConfig.load(dir);
        ModelInfo info = config.toInfo(name, 0);
        SegmentConverter.Converted graphs;
        try (Checkpoint ck = Checkpoint.open(dir)) {
            graphs = new SegmentConverter(ck, config).convert(cache);
        }
        double maxDiff = 0;
        double klSum = 0;
        int positions = 0;
        int agree = 0;
        int greedySame = 0;
        int greedyTotal = 0;
        int greedyDiffer = 0;
        try (Model fp32 = new Model(info, graphs, KvDType.FP32); Model half = new Model(info, graphs, dtype)) {
            for (JsonNode c : golden.get("cases")) {
                int[] prompt = ConformanceTest.ints(c.get("prompt_ids"));
                float[][] a = fp32.teacherForced(prompt);
                float[][] b = half.teacherForced(prompt);
                for (int i = 0; i < a.length; i++) {
                    for (int j = 0; j < a[i].length; j++) maxDiff = Math.max(maxDiff, Math.abs(a[i][j] - b[i][j]));
                    klSum += QuantizedAccuracyTest.kl(a[i], b[i]);
                    positions++;
                    if (GreedyRunner.argmax(a[i], 0, a[i].length) == GreedyRunner.argmax(b[i], 0, b[i].length)) {
                        agree++;
                    }
                }
                int n = c.get("greedy_ids").size();
                int[] ga = fp32.runner.generate(prompt, n);
                int[] gb = half.runner.generate(prompt, n);
                int same = 0;
                while (same < n && ga[same] == gb[same]) same++;
                greedySame += same;
                greedyTotal += n;
                if (same < n) greedyDiffer++;
            }
            assertEquals(0, half.executor.openNativeTensors());
        }
        double meanKl = klSum / positions;
        System.out.printf("%s %s KV: max |logit diff| %.3g, mean KL %.3g over %d positions, top-1 agreement %d/%d, "
                + "greedy tokens identical until the first difference %d/%d (%d prompts differ)%n", name, kvDtype,
                maxDiff, meanKl, positions, agree, positions, greedySame, greedyTotal, greedyDiffer);
        assertTrue(maxDiff <= maxLogitDiff, name + " " + kvDtype + ": max logit difference " + maxDiff);
        assertTrue(meanKl <= maxMeanKl, name + " " + kvDtype + ": mean KL " + meanKl);
        assertTrue((double) agree / positions >= minTop1, name + " " + kvDtype + ": argmax agreement " + agree);
        assertTrue((double) greedySame / greedyTotal >= minGreedySame, name + " " + kvDtype
                + ": greedy tokens identical until the first difference " + greedySame + "/" + greedyTotal);
    }

    /** One executor over a KV store of one dtype. */
    private static final class Model implements AutoCloseable {
        final OrtModelExecutor executor;
        final GreedyRunner runner;

        Model(ModelInfo info, SegmentConverter.Converted graphs, KvDType dtype) {
            KvCacheSpec spec = new KvCacheSpec(info.numLayers(), info.numKvHeads(), info.headDim(), 16, dtype);
            KvStore store = new KvStore(spec, 64);
            this.executor = new OrtModelExecutor(info, graphs.segments(), store,
                    new PagedAttention(spec, info.numHeads(), 2), 256, 4, 1);
            this.runner = new GreedyRunner(executor, store, 256, 4);
        }

        /** Row i: the logits after {@code text[0..i]}, each position decoded one at a time. */
        float[][] teacherForced(int[] text) {
            float[][] out = new float[text.length][];
            out[0] = runner.prefill(Arrays.copyOf(text, 1));
            for (int i = 1; i < text.length; i++) {
                runner.batch.clear();
                runner.batch.addSequence(text, i, 1, runner.table(0), runner.blocksPerSeq, runner.blockSize, true);
                executor.execute(runner.batch, runner.logits);
                out[i] = Arrays.copyOf(runner.logits, runner.vocab);
            }
            return out;
        }

        @Override
        public void close() {
            executor.close();
        }
    }
}
