package dev.tessera.bench;

import dev.tessera.builtin.ModelRef;
import dev.tessera.engine.CacheDirs;
import dev.tessera.engine.text.TextEngineOptions;
import dev.tessera.gateway.GatewayOptions;
import dev.tessera.gateway.TesseraServer;
import dev.tessera.loadtest.LoadGenerator;
import dev.tessera.loadtest.LoadReport;
import dev.tessera.loadtest.LoadSpec;
import dev.tessera.scheduler.text.GenerateRequest;
import dev.tessera.gateway.ModelSpec;
import dev.tessera.scheduler.JobService;
import dev.tessera.scheduler.core.JobEvent;
import dev.tessera.scheduler.text.Sampling;
import dev.tessera.scheduler.text.TextConfig;
import java.io.File;
import java.net.ServerSocket;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code bench gateway}: streams one generate workload (N concurrent clients, each sending its requests back to
 * back, greedy, {@code ignore_eos} so every run does the same work) through the gateway over loopback gRPC and
 * directly through the {@link JobService} in the same process, on the same loaded model, in one run.
 * Prints tokens/s of both and {@code ratio} = gateway / in-process (target &gt;= 0.9). The same workload also
 * streams through the OpenAI API ({@code POST /v1/completions}, server-sent events over HTTP/1.1, {@link SseLoad})
 * in the same rounds: {@code http_ratio} = SSE tokens/s / gRPC tokens/s (target &gt;= 0.9). Both paths run the same
 * engine with the same threads: by default all cores but one, since the gateway's event loop and the loopback
 * clients need a core; on a small machine, taking every core for compute makes the network threads preempt the
 * compute threads mid-step (same batching, slower steps: see {@code gateway_steps}). Also launches
 * {@code serve} as a child process of the same classpath and reports {@code startup_ms}: from launch until gRPC
 * health says SERVING.
 */
@Command(name = "gateway", mixinStandardHelpOptions = true, sortOptions = false,
        description = "Gateway (gRPC over loopback, and the OpenAI API's SSE) vs in-process throughput on the same "
                + "workload, and serve startup.")
public final class GatewayBench implements Callable<Integer> {
    @Option(names = "--json", description = "Print the result as a JSON object on the last stdout line.")
    boolean json;

    @Option(names = "--model", defaultValue = "builtin:bench", description = "Model (default: ${DEFAULT-VALUE}).")
    String model;

    @Option(names = "--clients", defaultValue = "8", description = "Concurrent clients (default: ${DEFAULT-VALUE}).")
    int clients;

    @Option(names = "--requests", defaultValue = "4", description = "Requests per client (default: ${DEFAULT-VALUE}).")
    int requests;

    @Option(names = "--max-tokens", defaultValue = "64", description = "Tokens per request (default: ${DEFAULT-VALUE}).")
    int maxTokens;

    @Option(names = "--kv-memory", defaultValue = "256MiB", description = "KV budget (default: ${DEFAULT-VALUE}).")
    String kvMemory;

    @Option(names = "--rounds", defaultValue = "2",
            description = "Rounds; each runs both paths, in alternating order (default: ${DEFAULT-VALUE}).")
    int rounds;

    @Option(names = "--threads", defaultValue = "-1",
            description = "TextEngine compute threads for both paths; 0 = all cores; default: all cores but one, the "
                    + "core a serving deployment leaves to the network edge.")
    int threads;

    @Option(names = "--skip-startup", description = "Do not measure the startup of a child 'serve' process.")
    boolean skipStartup;

    /** Runs with command-line arguments; returns the exit code. */
    public static int run(String... args) {
        return new CommandLine(new GatewayBench()).execute(args);
    }

    @Override
    public Integer call() throws Exception {
        long kvBytes = parseSize(kvMemory);
        double startupMs = skipStartup ? -1 : measureStartup(kvBytes);

        ModelRef ref = new ModelRef(model);
        TextEngineOptions engine = TextEngineOptions.defaults(ref.resolve(CacheDirs.defaultDir()))
                .withName(ref.servedName()).withKvMemoryBytes(kvBytes);
        int cores = Runtime.getRuntime().availableProcessors();
        int computeThreads = threads < 0 ? Math.max(1, cores - 1) : threads == 0 ? cores : threads;
        engine = engine.withThreads(computeThreads);

        GatewayOptions gateway = GatewayOptions.defaults().withHost("127.0.0.1").withPort(0);
        List<String> prompts = List.of("The quick brown fox jumps over the lazy dog.",
                "Continuous batching packs sequences of different lengths into one step.",
                "A paged KV cache stores attention keys and values in fixed-size blocks.",
                "Streaming inference returns tokens as soon as they exist.");
        LoadSpec spec = new LoadSpec(clients, requests, prompts, maxTokens, true);
        try (TesseraServer server = TesseraServer.start(gateway, new ModelSpec.Text(engine, TextConfig.defaults()))) {
            JobService service = server.scheduler();
            String name = ref.servedName();
            int port = server.gateway().port();
            LoadGenerator load = new LoadGenerator("127.0.0.1", port);
            // Warm up both paths (JIT of netty, HTTP/2, protobuf and gRPC on one side, graph caches on both):
            // half a workload each, at full concurrency.
            LoadSpec warmup = new LoadSpec(clients, Math.max(1, requests / 2), prompts, maxTokens, true);
            load.run(warmup);
            inProcess(service, warmup);

            SseLoad.run(port, name, warmup);

            // Alternate the order (in-process, gRPC, HTTP; then HTTP, gRPC, in-process; ...) so drift on a noisy
            // machine does not favour one path.
            double inTokens = 0;
            double inSeconds = 0;
            LoadReport viaGateway = null;
            double gwTokens = 0;
            double gwSeconds = 0;
            long gwErrors = 0;
            long gwRequests = 0;
            long inSteps = 0;
            long gwSteps = 0;
            double httpTokens = 0;
            double httpSeconds = 0;
            long httpErrors = 0;
            long httpSteps = 0;
            SseLoad.Result viaHttp = null;
            for (int r = 0; r < Math.max(1, rounds); r++) {
                double[] in = null;
                LoadReport g = null;
                SseLoad.Result h = null;
                for (int step = 0; step < 3; step++) {
                    int path = r % 2 == 0 ? step : 2 - step;
                    long s0 = service.stats(name).steps();
                    if (path == 0) {
                        in = inProcess(service, spec);
                        inSteps += service.stats(name).steps() - s0;
                    } else if (path == 1) {
                        g = load.run(spec);
                        gwSteps += service.stats(name).steps() - s0;
                    } else {
                        h = SseLoad.run(port, name, spec);
                        httpSteps += service.stats(name).steps() - s0;
                    }
                }
                inTokens += in[0];
                inSeconds += in[1];
                gwTokens += g.tokens();
                gwSeconds += g.seconds();
                gwErrors += g.errors();
                gwRequests += g.requests();
                viaGateway = viaGateway == null || !g.firstError().isEmpty() ? g : viaGateway;
                httpTokens += h.tokens();
                httpSeconds += h.seconds();
                httpErrors += h.errors();
                viaHttp = viaHttp == null || !h.firstError().isEmpty() ? h : viaHttp;
            }
            double inProcessTps = inTokens / inSeconds;
            double gatewayTps = gwTokens / gwSeconds;
            viaGateway = new LoadReport(gwRequests, gwErrors, (long) gwTokens, gwSeconds,
                    viaGateway.ttftP50Ms(), viaGateway.ttftP99Ms(), viaGateway.itlP50Ms(), viaGateway.itlP99Ms(),
                    viaGateway.firstError());
            double ratio = inProcessTps > 0 ? gatewayTps / inProcessTps : 0;
            double httpTps = httpSeconds > 0 ? httpTokens / httpSeconds : 0;
            double httpRatio = gatewayTps > 0 ? httpTps / gatewayTps : 0;
            System.err.printf(Locale.ROOT, "gateway: %.1f tokens/s (%d requests, %d errors, ttft p50 %.1f ms, "
                            + "itl p50 %.2f ms); in-process: %.1f tokens/s; ratio %.3f; startup %.0f ms%n",
                    viaGateway.tokensPerSecond(), viaGateway.requests(), viaGateway.errors(),
                    viaGateway.ttftP50Ms(), viaGateway.itlP50Ms(), inProcessTps, ratio, startupMs);
            System.err.printf(Locale.ROOT, "http (SSE): %.1f tokens/s (%d errors, ttft p50 %.1f ms); http_ratio"
                    + " (SSE / gRPC) %.3f%n", httpTps, httpErrors, viaHttp.ttftP50Ms(), httpRatio);
            if (!viaGateway.firstError().isEmpty()) {
                System.err.println("first gateway error: " + viaGateway.firstError());
            }
            if (!viaHttp.firstError().isEmpty()) {
                System.err.println("first http error: " + viaHttp.firstError());
            }
            String result = String.format(Locale.ROOT, "{\"bench\":\"gateway\",\"model\":\"%s\",\"clients\":%d,"
                            + "\"requests_per_client\":%d,\"rounds\":%d,\"threads\":%d,\"max_tokens\":%d,\"gateway_tokens_per_s\":%.2f,"
                            + "\"inprocess_tokens_per_s\":%.2f,\"ratio\":%.4f,\"startup_ms\":%.1f,"
                            + "\"gateway_errors\":%d,\"gateway_ttft_p50_ms\":%.3f,\"gateway_itl_p50_ms\":%.3f,"
                            + "\"gateway_steps\":%d,\"inprocess_steps\":%d,\"http_tokens_per_s\":%.2f,"
                            + "\"http_ratio\":%.4f,\"http_errors\":%d,\"http_ttft_p50_ms\":%.3f,\"http_steps\":%d}",
                    model, clients, requests, rounds, engine.threads(), maxTokens, viaGateway.tokensPerSecond(), inProcessTps, ratio,
                    startupMs, viaGateway.errors(), viaGateway.ttftP50Ms(), viaGateway.itlP50Ms(), gwSteps, inSteps,
                    httpTps, httpRatio, httpErrors, viaHttp.ttftP50Ms(), httpSteps);
            if (json) {
                System.out.println(result);
            } else {
                System.out.printf(Locale.ROOT, "gateway %.1f tok/s, in-process %.1f tok/s, ratio %.3f, http (SSE)"
                        + " %.1f tok/s, http_ratio %.3f, startup %.0f ms%n", viaGateway.tokensPerSecond(), inProcessTps,
                        ratio, httpTps, httpRatio, startupMs);
            }
            return viaGateway.errors() == 0 && httpErrors == 0 ? 0 : 1;
        }
    }

    /**
     * The same workload straight through the service: one client per thread, requests back to back.
     *
     * @return {tokens, seconds}
     */
    static double[] inProcess(JobService service, LoadSpec spec) {
        AtomicLong tokens = new AtomicLong();
        long start = System.nanoTime();
        List<CompletableFuture<Void>> clients = new ArrayList<>();
        for (int c = 0; c < spec.clients(); c++) {
            int client = c;
            clients.add(CompletableFuture.runAsync(() -> {
                for (int i = 0; i < spec.requestsPerClient(); i++) {
                    Sampling params = Sampling.builder().maxTokens((long) spec.maxTokens())
                            .ignoreEos(spec.ignoreEos()).build();
                    service.generate(GenerateRequest.of("inproc-" + client + "-" + i, spec.prompt(client, i), params))
                            .doOnNext(e -> {
                                if (e instanceof JobEvent.TokenDelta d) {
                                    tokens.addAndGet(d.tokenIds().length);
                                }
                            })
                            .blockLast();
                }
            }, runnable -> {
                Thread t = new Thread(runnable, "inproc-client-" + client);
                t.setDaemon(true);
                t.start();
            }));
        }
        CompletableFuture.allOf(clients.toArray(CompletableFuture[]::new)).join();
        double seconds = (System.nanoTime() - start) / 1e9;
        return new double[] {tokens.get(), seconds};
    }

    /** Launches {@code serve} in a child JVM and times launch to health SERVING; then stops it with SIGTERM. */
    private double measureStartup(long kvBytes) throws Exception {
        int port;
        try (ServerSocket s = new ServerSocket(0)) {
            port = s.getLocalPort();
        }
        String java = ProcessHandle.current().info().command().orElse("java");
        List<String> command = new ArrayList<>(List.of(java, "--add-modules", "jdk.incubator.vector",
                "-cp", System.getProperty("java.class.path"), "dev.tessera.cli.Main", "serve",
                "--host", "127.0.0.1", "--port", Integer.toString(port), "--model", model,
                "--kv-memory", Long.toString(kvBytes), "--grace-period", "2s"));
        File log = File.createTempFile("tessera-serve", ".log");
        log.deleteOnExit();
        long start = System.nanoTime();
        Process child = new ProcessBuilder(command).redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.to(log)).start();
        try {
            boolean up = HealthProbe.awaitServing("127.0.0.1", port, Duration.ofMinutes(5), child);
            double ms = (System.nanoTime() - start) / 1e6;
            if (!up) {
                System.err.println("serve did not become SERVING; its log: " + log);
                return -1;
            }
            return ms;
        } finally {
            child.destroy();
            if (!child.waitFor(20, TimeUnit.SECONDS)) {
                child.destroyForcibly();
            }
        }
    }

    private static long parseSize(String v) {
        String s = v.trim().toLowerCase(Locale.ROOT).replace("ib", "").replace("b", "");
        long unit = s.endsWith("k") ? 1L << 10 : s.endsWith("m") ? 1L << 20 : s.endsWith("g") ? 1L << 30 : 1;
        String digits = unit == 1 ? s : s.substring(0, s.length() - 1);
        return (long) (Double.parseDouble(digits) * unit);
    }
}
