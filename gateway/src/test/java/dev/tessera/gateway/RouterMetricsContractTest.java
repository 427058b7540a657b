package dev.tessera.gateway;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tessera.builtin.BuiltinModels;
import dev.tessera.engine.text.model.ModelConfig;
import dev.tessera.engine.text.TextEngineOptions;
import dev.tessera.kvcache.KvDType;
import dev.tessera.scheduler.text.TextConfig;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The metrics contract with the Gateway API Inference Extension's endpoint picker (its model-server protocol:
 * TotalQueuedRequests, TotalRunningRequests, KVCacheUtilization, and BlockSize / NumGPUBlocks for the prefix-cache
 * scorer, under vLLM's names, which the picker reads by default), on a real server serving builtin:tiny: each series
 * the picker reads is there with the picker's type and labels, and /metrics answers plain HTTP/1.1 (the picker
 * scrapes with a plain HTTP client) on the same port as the API, the pool's target port.
 */
@Timeout(120)
class RouterMetricsContractTest {
    /** name, Prometheus type, labels the picker (or the prefix scorer) needs beyond model_name. */
    private record Series(String name, String type, List<String> labels) {
    }

    private static final List<Series> PICKER_READS = List.of(
            new Series("vllm:num_requests_waiting", "gauge", List.of()),
            new Series("vllm:num_requests_running", "gauge", List.of()),
            new Series("vllm:kv_cache_usage_perc", "gauge", List.of()),
            new Series("vllm:cache_config_info", "gauge", List.of("block_size", "num_gpu_blocks")));

    private static final Pattern SAMPLE = Pattern.compile("^([a-zA-Z_:][a-zA-Z0-9_:]*)\\{([^}]*)} (\\S+)$");
    private static final Pattern LABEL = Pattern.compile("([a-zA-Z_][a-zA-Z0-9_]*)=\"([^\"]*)\"");

    /**
     * A 16-bit cache (--kv-dtype) is a pool of twice the blocks for the same budget, an int8 one of about 3-4x (a
     * byte per element plus a 4-byte scale per token and KV head), reported as such.
     */
    @ParameterizedTest
    @EnumSource(value = KvDType.class, names = {"FP32", "BF16", "INT8"})
    void everySeriesThePickerReadsHasItsTypeAndLabelsOverHttp11(KvDType dtype, @TempDir Path cache) throws Exception {
        Path dir = BuiltinModels.materialize("tiny", cache);
        TextEngineOptions engine = TextEngineOptions.defaults(dir)
                .withName("tiny").withCacheDir(cache).withKvMemoryBytes(16L << 20).withBlockSize(16).withThreads(2)
                .withKvDtype(dtype);
        // The pool holds as many blocks as the budget pays for: keys and values of every layer, 4 bytes each at
        // fp32, 2 at bf16, 1 at int8 plus 4 per vector of headDim elements.
        ModelConfig c = ModelConfig.load(dir);
        long vectorBytes = switch (dtype) {
            case FP32 -> 4L * c.headDim();
            case BF16, FP16 -> 2L * c.headDim();
            case INT8 -> c.headDim() + 4L;
        };
        long expectedBlocks = (16L << 20) / (2L * c.numLayers() * c.numKvHeads() * vectorBytes * 16);
        try (TesseraServer server = TesseraServer.start(GatewayTestSupport.loopback(),
                new ModelSpec.Text(engine, TextConfig.defaults()))) {
            HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
            HttpResponse<String> r = http.send(HttpRequest.newBuilder(
                    URI.create("http://127.0.0.1:" + server.gateway().port() + "/metrics")).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertEquals(200, r.statusCode());
            assertEquals(HttpClient.Version.HTTP_1_1, r.version());
            assertTrue(r.headers().firstValue("content-type").orElse("").startsWith("text/plain"),
                    "Prometheus text format: " + r.headers().firstValue("content-type"));
            Map<String, String> types = new HashMap<>();
            Map<String, Map<String, String>> samples = new LinkedHashMap<>();
            Map<String, Double> values = new HashMap<>();
            for (String line : r.body().split("\n")) {
                if (line.startsWith("# TYPE ")) {
                    String[] p = line.split(" ");
                    types.put(p[2], p[3]);
                    continue;
                }
                Matcher m = SAMPLE.matcher(line);
                if (!m.matches()) continue;
                Map<String, String> labels = new HashMap<>();
                Matcher l = LABEL.matcher(m.group(2));
                while (l.find()) labels.put(l.group(1), l.group(2));
                if ("tiny".equals(labels.get("model_name"))) {
                    samples.put(m.group(1), labels);
                    values.put(m.group(1), Double.parseDouble(m.group(3)));
                }
            }
            for (Series s : PICKER_READS) {
                assertEquals(s.type(), types.get(s.name()), s.name() + " type");
                Map<String, String> labels = samples.get(s.name());
                assertTrue(labels != null, s.name() + " has a sample for model_name=\"tiny\"");
                for (String label : s.labels()) assertTrue(labels.containsKey(label), s.name() + " has " + label);
            }
            assertEquals(0.0, values.get("vllm:num_requests_waiting"));
            assertEquals(0.0, values.get("vllm:num_requests_running"));
            double usage = values.get("vllm:kv_cache_usage_perc");
            assertTrue(usage >= 0 && usage <= 1, "a fraction, as vLLM's: " + usage);
            Map<String, String> info = samples.get("vllm:cache_config_info");
            assertEquals(1.0, values.get("vllm:cache_config_info"), "an info series: value 1");
            assertEquals("16", info.get("block_size"));
            assertEquals(Long.toString(expectedBlocks), info.get("num_gpu_blocks"));
        }
    }
}
