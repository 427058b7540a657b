package dev.tessera.cli;

import dev.tessera.builtin.ModelRef;
import dev.tessera.engine.CacheDirs;
import dev.tessera.engine.text.TextEngineOptions;
import dev.tessera.gateway.GatewayOptions;
import dev.tessera.gateway.TesseraServer;
import dev.tessera.scheduler.SchedulerConfig;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code serve}: runs the server until SIGTERM / SIGINT, then drains gracefully. */
@Command(name = "serve", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Serves the model over gRPC (h2c) with reflection, health and /metrics on one port.",
            "Every option can also come from a properties file (--config), keyed by the long option name without "
                + "dashes, e.g. 'port=9000' or 'kv-memory=1GiB'. Flags win over the file."})
final class ServeCommand implements Callable<Integer> {
    @Option(names = "--config", paramLabel = "FILE", description = "Properties file with option defaults.")
    Path config;

    @Option(names = "--host", defaultValue = "0.0.0.0", description = "Interface to bind (default: ${DEFAULT-VALUE}).")
    String host;

    @Option(names = "--port", defaultValue = "8080", description = "TCP port (default: ${DEFAULT-VALUE}).")
    int port;

    @Option(names = "--model", defaultValue = "builtin:tiny",
            description = "Hugging Face checkpoint directory (config.json, *.safetensors, tokenizer.json) or "
                    + "builtin:tiny / builtin:bench (default: ${DEFAULT-VALUE}).")
    String model;

    @Option(names = "--kv-memory", defaultValue = "256MiB", converter = ByteSize.class,
            description = "KV-cache memory budget, e.g. 512MiB, 2GiB (default: ${DEFAULT-VALUE}).")
    long kvMemory;

    @Option(names = "--block-size", defaultValue = "16", description = "Tokens per KV block (default: ${DEFAULT-VALUE}).")
    int blockSize;

    @Option(names = "--threads", defaultValue = "0", description = "Compute threads; 0 = all cores.")
    int threads;

    @Option(names = "--cache-dir", description = "Where converted graphs are cached (default: $TESSERA_HOME or "
            + "~/.cache/tessera).")
    Path cacheDir;

    @Option(names = "--max-model-len", defaultValue = "0",
            description = "Positions per sequence, prompt plus output; 0 = the model's (default: ${DEFAULT-VALUE}).")
    int maxModelLen;

    @Option(names = "--max-batch-tokens", defaultValue = "512",
            description = "Token budget of one scheduler step (default: ${DEFAULT-VALUE}).")
    int maxBatchTokens;

    @Option(names = "--max-seqs", defaultValue = "64",
            description = "Sequences in the running batch (default: ${DEFAULT-VALUE}).")
    int maxSeqs;

    @Option(names = "--max-waiting", defaultValue = "1024",
            description = "Waiting-queue bound; past it calls get RESOURCE_EXHAUSTED (default: ${DEFAULT-VALUE}).")
    int maxWaiting;

    @Option(names = "--no-prefix-caching", description = "Do not reuse the KV of shared prompt prefixes.")
    boolean noPrefixCaching;

    @Option(names = "--max-prompt-tokens", defaultValue = "0",
            description = "Longest prompt; 0 = the model's length (default: ${DEFAULT-VALUE}).")
    int maxPromptTokens;

    @Option(names = "--max-message-size", defaultValue = "4MiB", converter = ByteSize.class,
            description = "Largest gRPC message accepted (default: ${DEFAULT-VALUE}).")
    long maxMessageSize;

    @Option(names = "--max-concurrent-streams", defaultValue = "128",
            description = "Concurrent calls per HTTP/2 connection (default: ${DEFAULT-VALUE}).")
    int maxConcurrentStreams;

    @Option(names = "--max-jobs-per-session", defaultValue = "64",
            description = "Live jobs on one Session stream (default: ${DEFAULT-VALUE}).")
    int maxJobsPerSession;

    @Option(names = "--grace-period", defaultValue = "30s",
            description = "On SIGTERM, how long in-flight calls may finish, e.g. 30s, 2m (default: ${DEFAULT-VALUE}).")
    String gracePeriod;

    GatewayOptions gatewayOptions() {
        return new GatewayOptions(host, port, maxConcurrentStreams, (int) Math.min(Integer.MAX_VALUE, maxMessageSize),
                maxPromptTokens, maxJobsPerSession, Duration.parse("PT" + gracePeriod.toUpperCase()),
                GatewayOptions.defaults().streamBatch(), GatewayOptions.defaults().writeQueueMaxBytes());
    }

    TextEngineOptions engineOptions() {
        ModelRef ref = new ModelRef(model);
        Path cache = cacheDir != null ? cacheDir : CacheDirs.defaultDir();
        TextEngineOptions e = TextEngineOptions.defaults(ref.resolve(cache)).withName(ref.servedName())
                .withKvMemoryBytes(kvMemory)
                .withBlockSize(blockSize).withMaxBatchTokens(maxBatchTokens)
                .withMaxSeqs(Math.max(maxSeqs, dev.tessera.engine.text.sampling.SamplingParams.MAX_N))
                .withMaxModelLen(maxModelLen);
        if (threads > 0) {
            e = e.withThreads(threads);
        }
        if (cacheDir != null) {
            e = e.withCacheDir(cacheDir);
        }
        return e;
    }

    SchedulerConfig schedulerConfig() {
        SchedulerConfig c = SchedulerConfig.defaults().withMaxNumSeqs(maxSeqs).withMaxBatchTokens(maxBatchTokens)
                .withMaxWaiting(maxWaiting).withPrefixCaching(!noPrefixCaching);
        return maxPromptTokens > 0 ? c.withMaxPromptTokens(maxPromptTokens) : c;
    }

    @Override
    public Integer call() throws Exception {
        TesseraServer server = TesseraServer.start(gatewayOptions(), engineOptions(), schedulerConfig());
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            server.close();
            stopped.countDown();
        }, "tessera-shutdown"));
        System.err.println("tessera: serving '" + server.engine().info().name() + "' on " + host + ":"
                + server.gateway().port() + " (Ctrl-C or SIGTERM drains and stops)");
        stopped.await();
        return 0;
    }
}
