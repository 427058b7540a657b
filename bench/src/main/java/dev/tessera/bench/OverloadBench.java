package dev.tessera.bench;

import dev.tessera.api.v1.GenerateRequest;
import dev.tessera.api.v1.GenerateResponse;
import dev.tessera.api.v1.InferenceGrpc;
import dev.tessera.api.v1.SamplingParams;
import dev.tessera.builtin.ModelRef;
import dev.tessera.engine.CacheDirs;
import dev.tessera.engine.text.TextEngineOptions;
import dev.tessera.gateway.GatewayOptions;
import dev.tessera.gateway.ModelSpec;
import dev.tessera.gateway.TesseraServer;
import dev.tessera.loadtest.LoadGenerator;
import dev.tessera.loadtest.LoadReport;
import dev.tessera.loadtest.LoadSpec;
import dev.tessera.scheduler.core.ModelStats;
import dev.tessera.scheduler.text.TextConfig;
import dev.tessera.scheduler.text.TextStats;
import io.grpc.CallOptions;
import io.grpc.ClientStreamTracer;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.Status;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.netty.shaded.io.netty.channel.nio.NioEventLoopGroup;
import io.grpc.netty.shaded.io.netty.channel.socket.nio.NioSocketChannel;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientCalls;
import io.grpc.stub.ClientResponseObserver;
import io.grpc.stub.StreamObserver;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;
import org.jspecify.annotations.Nullable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code bench overload}: a server on loopback ({@code builtin:tiny} by default) is first run at its capacity
 * (closed loop: {@code capacity_rps}), then offered {@code --factor} times that (open loop, for {@code --seconds},
 * or {@code --requests} in all within {@code --max-seconds}) with a small waiting queue: how fast the excess is
 * refused ({@code reject_ms}, from the client's send to the status, and {@code server_reject_ms}, the server's own
 * histogram from the call's arrival to its status; {@code probe_reject_ms}, a refusal probe's: one request at a time
 * from a client whose transport thread serves nothing else), the time to first token of what is accepted, and
 * whether the waiting queue ever passed its bound ({@code waiting_peak}: the server's own high-water mark, read
 * once after the load; sampling {@code /metrics} every 20 ms during the load, as this bench once did, cost the server
 * about 10 ms of CPU per scrape, then on an event loop, and delayed the refusals it measured). The measured overload
 * follows a warm-up overload at the same rate, reported apart as {@code warmup}: a fresh server's first overload is
 * far slower, as its JIT compiles the paths the load takes (HotSpot's compiler threads of serve took about 60% of one
 * core of two for its first 30-60 s under 600 requests/s, and this client's as much, so both sides' event loops
 * waited for a core: refusal p99 12-150 ms a second then, 4-6 ms once the compilers went quiet). The warm-up runs in
 * rounds of {@value #WARMUP_ROUND_SECONDS} s until the compiler threads of both processes used under
 * {@value #JIT_QUIET_SHARE} of a core in a round, or for {@code --warmup-seconds} at most ({@code jit_ms_by_round}
 * says how it went); {@code reject_p99_ms_by_second} gives the p99 of each second of the warm-up and of the measured
 * load. Then a greedy canary stream (on a connection and a transport thread of its own) runs alone and again while
 * 4 MB prompts (alternately a {@code Generate} and a {@code Session} message) are sent and refused beside it by a
 * process of its own at nice 19 (a hostile client on a machine of its own, as far as two shared cores allow), and by a
 * thread of this JVM ({@code stall.storm_thread}): the largest gap between its messages in each case
 * ({@code stall}), with the server's GC pauses meanwhile, this JVM's
 * collections beside, and how long the server's decode loop waited for a core alone and beside
 * ({@code decode_loop_solo}, {@code decode_loop_beside}); then once more with the 4 MB prompts sent one at a time,
 * {@value #PACED_PROMPT_MS} ms apart ({@code stall.one_at_a_time}). {@code cpu_during_load} says where the measured
 * load's time went on the shared cores ({@link CpuWait}): CPU and run-queue wait of the server's event loops, of the
 * whole server, of this client and of each side's JIT compilers, and the share of the time some task on the machine
 * waited for a core.
 *
 * <p>The server is {@code bin/engine serve} in a child process when the launcher is known ({@code bin/engine bench}
 * sets {@code $TESSERA_LAUNCHER}): its JVM settings are serve's own, the client does not share its heap or its GC,
 * and {@code rss_mb} is the server's resident memory (after the warm-up, after the load, at the end) with its native
 * memory summary ({@code nmt_mb}, from {@code jcmd}) and the bound the issue sets ({@code rss_bound_mb}: weights +
 * KV budget + 400 MB). Otherwise (tests) the server runs in this process and {@code rss_mb} covers both.
 *
 * <p>The client sends from {@code --senders} threads over {@code --channels} HTTP/2 connections and handles answers
 * on the transport threads (no hand-off), so that it is not what queues the requests.
 */
@Command(name = "overload", mixinStandardHelpOptions = true, sortOptions = false,
        description = "Overload: refusal latency, accepted TTFT, waiting bound, canary stall beside 4 MB prompts, "
                + "serve's memory.")
public final class OverloadBench implements Callable<Integer> {
    /** Set by bin/engine to itself: how to start {@code serve} with its JVM settings. */
    static final String LAUNCHER_ENV = "TESSERA_LAUNCHER";
    /** KV budget: serve's default in a child, less in process (tests). */
    private static final long CHILD_KV_BYTES = 256L << 20;
    private static final long IN_PROCESS_KV_BYTES = 64L << 20;
    private static final int PROBE_EVERY_MS = 20;
    static final int WARMUP_ROUND_SECONDS = 5;
    /** Between the 4 MB prompts of the canary's paced run ({@code stall.one_at_a_time}). */
    static final int PACED_PROMPT_MS = 200;
    /** A process's compiler threads are quiet when they used less than this share of one core in a round. */
    static final double JIT_QUIET_SHARE = 0.05;
    private static final Pattern WAITING_PEAK = Pattern.compile(
            "^tessera:num_requests_waiting_peak\\{[^}]*\\} (\\S+)$", Pattern.MULTILINE);
    private static final Pattern REJECT_BUCKET = Pattern.compile(
            "^tessera:gateway_rejection_seconds_bucket\\{le=\"([^\"]+)\"\\} (\\S+)$", Pattern.MULTILINE);

    @Option(names = "--json", description = "Print the result as a JSON object on the last stdout line.")
    boolean json;

    @Option(names = "--model", defaultValue = "builtin:tiny", description = "Model (default: ${DEFAULT-VALUE}).")
    String model;

    @Option(names = "--seconds", defaultValue = "10", description = "Overload duration (default: ${DEFAULT-VALUE}).")
    double seconds;

    @Option(names = "--requests", defaultValue = "0",
            description = "Send this many requests at the offered rate instead of --seconds' worth (e.g. 10000).")
    long requests;

    @Option(names = "--warmup-seconds", defaultValue = "60",
            description = "Overload at the same rate first, reported apart as \"warmup\", until the JIT compilers of"
                    + " serve and of this client are quiet or for this long at most (default: ${DEFAULT-VALUE}).")
    double warmupSeconds;

    @Option(names = "--max-seconds", defaultValue = "300",
            description = "Stop sending after this long whatever --requests says (default: ${DEFAULT-VALUE}).")
    double maxSeconds;

    @Option(names = "--factor", defaultValue = "10", description = "Offered / capacity (default: ${DEFAULT-VALUE}).")
    double factor;

    @Option(names = "--max-waiting", defaultValue = "16", description = "Waiting bound (default: ${DEFAULT-VALUE}).")
    int maxWaiting;

    @Option(names = "--max-tokens", defaultValue = "16", description = "Tokens per request (default: ${DEFAULT-VALUE}).")
    int maxTokens;

    @Option(names = "--threads", defaultValue = "0", description = "Compute threads; 0 = all cores.")
    int threads;

    @Option(names = "--senders", defaultValue = "4", description = "Client threads sending (default: ${DEFAULT-VALUE}).")
    int senders;

    @Option(names = "--channels", defaultValue = "16",
            description = "Client HTTP/2 connections (default: ${DEFAULT-VALUE}).")
    int channels;

    @Option(names = "--canary-tokens", defaultValue = "256",
            description = "Tokens of the canary stream (default: ${DEFAULT-VALUE}).")
    int canaryTokens;

    @Option(names = "--stall-warmup-passes", defaultValue = "60",
            description = "Canaries beside the storm before the measured ones, at most; they stop once both processes' "
                    + "compiler threads are quiet in one (default: ${DEFAULT-VALUE}).")
    int stallWarmupPasses;

    @Option(names = "--stall-runs", defaultValue = "3",
            description = "Measured canaries alone, beside the storm thread and beside the storm process, in turn, of "
                    + "each; each figure is the largest gap over its runs (default: ${DEFAULT-VALUE}).")
    int stallRuns;

    @Option(names = "--storm-warm-prompts", defaultValue = "100",
            description = "Prompts the storm process has refused before the canaries beside it start, so that its "
                    + "JVM's compilers have settled (default: ${DEFAULT-VALUE}).")
    int stormWarmPrompts;

    @Option(names = "--storm-nice", defaultValue = "19",
            description = "Niceness of the storm process, the measure's storm (nice -n; 0 for none): it gets the "
                    + "cores only when serve and the canary leave them idle (default: ${DEFAULT-VALUE}).")
    int stormNice;

    @Option(names = "--in-process", description = "Run the server in this process even when bin/engine is known.")
    boolean inProcess;

    @Option(names = "--server-java-opts", defaultValue = "",
            description = "JVM flags added to the child serve's (e.g. -XX:G1HeapRegionSize=8m).")
    String serverJavaOpts;

    @Option(names = "--server-args", defaultValue = "",
            description = "serve options added to the child's, space-separated (e.g. --max-upload-rate 0).")
    String serverArgs;

    /** This JVM's collections, for the canary's gaps to be checked against; set while {@link #call} runs. */
    private @Nullable ClientPauses clientPauses;

    /** Runs with command-line arguments; returns the exit code. */
    public static int run(String... args) {
        return new CommandLine(new OverloadBench()).execute(args);
    }

    /** The server under load: a child serve, or one in this process. */
    private interface Target extends AutoCloseable {
        int port();

        /**
         * The most places ever held in the waiting queue at once, as the server keeps it exactly (its
         * {@code tessera:num_requests_waiting_peak}); read once after the load, so the bench never scrapes the
         * server while it measures it.
         */
        int waitingPeak();

        long rssMb();

        /** The server's rejection histogram: cumulative counts by upper bound (seconds); empty if unknown. */
        Map<Double, Double> rejectionBuckets();

        @Override
        void close() throws Exception;
    }

    @Override
    public Integer call() throws Exception {
        ModelRef ref = new ModelRef(model);
        Path modelDir = ref.resolve(CacheDirs.defaultDir());
        String name = ref.servedName();
        String launcher = System.getenv(LAUNCHER_ENV);
        Map<String, Object> out = new LinkedHashMap<>();
        ServeProcess child = null;
        Target target;
        if (launcher != null && !launcher.isBlank() && !inProcess) {
            List<String> args = new ArrayList<>(List.of("--model", model, "--kv-memory", Long.toString(CHILD_KV_BYTES),
                    "--max-waiting", Integer.toString(maxWaiting), "--max-message-size", "8MiB",
                    "--grace-period", "5s"));
            if (threads > 0) args.addAll(List.of("--threads", Integer.toString(threads)));
            if (!serverArgs.isBlank()) args.addAll(List.of(serverArgs.trim().split("\\s+")));
            child = ServeProcess.start(Path.of(launcher), args, serverJavaOpts);
            target = childTarget(child, name);
            out.put("server", "bin/engine serve, pid " + child.pid() + (serverArgs.isBlank() ? "" : " " + serverArgs.trim())
                    + (serverJavaOpts.isBlank() ? "" : ", with " + serverJavaOpts));
        } else {
            target = inProcessTarget(ref, modelDir, name);
            out.put("server", "in process (rss_mb covers the client too)");
        }
        try (Target server = target; ClientPauses pauses = new ClientPauses()) {
            clientPauses = pauses;
            int port = server.port();
            List<String> prompts = List.of("Overload is refused at once.", "Accepted work keeps its pace.",
                    "The queue never passes its bound.", "A canary sings beside a storm.");
            LoadGenerator load = new LoadGenerator("127.0.0.1", port);
            load.run(new LoadSpec(8, 4, prompts, maxTokens, true)); // warm-up
            LoadReport capacity = load.run(new LoadSpec(16, 8, prompts, maxTokens, true));
            long rssBefore = server.rssMb();
            double capacityRps = capacity.requests() / capacity.seconds();
            double offeredRps = capacityRps * factor;

            // one set of connections for the warm-up and the measured load, as a long-running client keeps its own
            List<ManagedChannel> pool = new ArrayList<>();
            WarmUp warmup = null;
            Overload result;
            long[] clientGcBefore;
            long[] clientGcAfter;
            Map<String, Object> serverGcDuringLoad;
            // where the time between a send and its answer goes when the server's own histogram says <= 1 ms: CPU
            // time of each side and how long their threads waited, runnable, for one of the shared cores
            long serverPid = child == null ? ProcessHandle.current().pid() : child.pid();
            CpuWait eventLoops = new CpuWait(serverPid, "vert.x-eventloo");
            CpuWait serverThreads = new CpuWait(serverPid, "");
            CpuWait clientThreads = new CpuWait(ProcessHandle.current().pid(), "");
            CpuWait decodeLoop = new CpuWait(serverPid, "tessera-loop");
            // HotSpot names its compiler threads "C1 CompilerThread0" and "C2 CompilerThread0" (15 characters kept)
            CpuWait serverJit = new CpuWait(serverPid, "C1 Compiler", "C2 Compiler");
            CpuWait clientJit = new CpuWait(ProcessHandle.current().pid(), "C1 Compiler", "C2 Compiler");
            Map<String, Object> cpuDuringLoad = new LinkedHashMap<>();
            try {
                for (int i = 0; i < channels; i++) {
                    pool.add(NettyChannelBuilder.forAddress("127.0.0.1", port).usePlaintext().directExecutor()
                            .build());
                }
                if (warmupSeconds > 0) warmup = warmUp(server, pool, offeredRps, prompts, serverJit, clientJit);
                int loadGcMark = child == null ? 0 : child.gcLogLines();
                clientGcBefore = clientGc();
                CpuWait.Mark loopsBefore = eventLoops.mark();
                CpuWait.Mark serverBefore = serverThreads.mark();
                CpuWait.Mark clientBefore = clientThreads.mark();
                CpuWait.Mark serverJitBefore = serverJit.mark();
                CpuWait.Mark clientJitBefore = clientJit.mark();
                result = overload(server, pool, offeredRps, prompts,
                        requests > 0 ? requests : Math.max(1, Math.round(offeredRps * seconds)), maxSeconds);
                cpuDuringLoad.put("server_event_loops", CpuWait.between(loopsBefore, eventLoops.mark()));
                cpuDuringLoad.put("server", CpuWait.between(serverBefore, serverThreads.mark()));
                cpuDuringLoad.put("client", CpuWait.between(clientBefore, clientThreads.mark()));
                cpuDuringLoad.put("server_jit", CpuWait.between(serverJitBefore, serverJit.mark()));
                cpuDuringLoad.put("client_jit", CpuWait.between(clientJitBefore, clientJit.mark()));
                clientGcAfter = clientGc();
                serverGcDuringLoad = child == null ? null : child.gcPausesSince(loadGcMark).json();
            } finally {
                for (ManagedChannel c : pool) c.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
            }
            long rssAfterLoad = server.rssMb();
            Map<Double, Double> buckets = server.rejectionBuckets();
            // Canaries beside the storm until the compilers are quiet, the first reported apart as stall.cold: the
            // server and this client then run the 4 MB prompts' paths for the first time, and both JVMs' compilers
            // took about half of the two cores during it and during the next (a scheduler trace,
            // tools/sched_gaps.py). The runs below are measured warm, as the load is. Up to 60 passes: at 10, as
            // before stop 24, neither JVM's compilers were ever quiet (serve's 21-303 ms a pass at pass 10, C2
            // recompiling the event loop's read path and the decode loop that the first storm had sent back to the
            // interpreter, -XX:+LogCompilation: 46 uncommon traps in the first pass), and serve still compiled
            // 10-121 ms of C2 code during a measured storm run; they went quiet after 18-39 passes.
            StallWarmUp stallWarmup = warmStall(port, serverJit, clientJit);
            CanaryRun cold = stallWarmup.first();
            StallRuns stallRuns;
            try (HugePromptStorm.Child stormProcess = stormProcess(port, stormNice, stormWarmPrompts)) {
                stallRuns = alternate(port, decodeLoop, child, serverJit, clientJit, stormProcess);
            }
            // the same 4 MB prompts one at a time, PACED_PROMPT_MS apart: what one refusal does to the canary
            CanaryRun paced = canaryMaxGap("one_at_a_time", port, true, PACED_PROMPT_MS, canaryTokens);

            out.put("capacity_rps", round(capacityRps));
            out.put("offered_rps", round(offeredRps));
            out.put("sent", result.sent);
            out.put("send_seconds", round(result.sendSeconds));
            out.put("accepted", result.accepted.get());
            out.put("rejected", result.rejected.get());
            out.put("other_errors", result.otherErrors.get());
            out.put("reject_ms", percentiles(result.rejectMs));
            out.put("client_send_ms", percentiles(result.clientQueueMs));
            out.put("reject_p99_ms_by_second", p99BySecond(result.rejectsTimed));
            // GC pauses during the measured load stop the side that pauses: a server pause delays every refusal
            // then in flight, a client pause every measurement then in flight
            Map<String, Object> gcDuringLoad = new LinkedHashMap<>();
            if (serverGcDuringLoad != null) gcDuringLoad.put("server", serverGcDuringLoad);
            gcDuringLoad.put("client_collections", clientGcAfter[0] - clientGcBefore[0]);
            gcDuringLoad.put("client_collection_ms", clientGcAfter[1] - clientGcBefore[1]);
            out.put("gc_during_load", gcDuringLoad);
            out.put("cpu_during_load", cpuDuringLoad);
            if (warmup != null) out.put("warmup", warmup.json());
            Map<String, Object> probe = new LinkedHashMap<>(percentiles(result.probeRejectMs));
            probe.put("refused", result.probeRejectMs.size());
            probe.put("accepted", result.probeAccepted.get());
            out.put("probe_reject_ms", probe);
            if (!buckets.isEmpty()) out.put("server_reject_ms", bucketPercentiles(buckets));
            out.put("accepted_ttft_ms", percentiles(result.ttftMs));
            out.put("waiting_peak", server.waitingPeak());
            out.put("max_waiting", maxWaiting);
            Map<String, Object> stall = new LinkedHashMap<>();
            Arm solo = stallRuns.solo();
            Arm storm = stallRuns.storm();
            stall.put("canary_max_gap_ms", storm.largestGap());
            stall.put("canary_solo_max_gap_ms", solo.largestGap());
            stall.put("huge_prompts_refused_beside", storm.hugeRefused());
            stall.put("huge_prompts_per_s", storm.hugePerSecond());
            stall.put("storm_nice", stormNice);
            stall.put("runs", storm.runs.size());
            stall.put("solo_runs_max_gap_ms", solo.maxGaps());
            stall.put("storm_runs_max_gap_ms", storm.maxGaps());
            stall.put("solo_runs_client_gc_in_max_gap_ms", solo.clientGcInMaxGaps());
            stall.put("storm_runs_client_gc_in_max_gap_ms", storm.clientGcInMaxGaps());
            // both JVMs' compiler threads during each measured run: near 0 when the runs measure warm processes
            stall.put("solo_runs_jit_ms", solo.jitMs());
            stall.put("storm_runs_jit_ms", storm.jitMs());
            // the same storm from a thread of this JVM, at the canary's priority: its 4 MB serialisations, transport
            // thread, compilers and collections share the canary client's JVM and compete with serve for the cores
            Arm thread = stallRuns.stormThread();
            Map<String, Object> inThread = new LinkedHashMap<>();
            inThread.put("canary_max_gap_ms", thread.largestGap());
            inThread.put("runs_max_gap_ms", thread.maxGaps());
            inThread.put("runs_client_gc_in_max_gap_ms", thread.clientGcInMaxGaps());
            inThread.put("runs_jit_ms", thread.jitMs());
            inThread.put("huge_prompts_refused_beside", thread.hugeRefused());
            inThread.put("huge_prompts_per_s", thread.hugePerSecond());
            stall.put("storm_thread", inThread);
            stall.put("one_at_a_time", paced.json());
            stall.put("cold", cold.json());
            stall.put("warmup", stallWarmup.json());
            ServeProcess.GcPauses serverGcBeside = storm.serverGc();
            if (serverGcBeside != null) stall.put("server_gc_beside", serverGcBeside.json());
            stall.put("client_collections_beside", storm.clientGc[0]);
            stall.put("client_collection_ms_beside", storm.clientGc[1]);
            // the scheduler thread that runs each decode step: how long it waited for a core, alone and beside
            stall.put("decode_loop_solo", solo.decodeLoop());
            stall.put("decode_loop_beside", storm.decodeLoop());
            out.put("stall", stall);
            Map<String, Object> rss = new LinkedHashMap<>();
            rss.put("after_warmup", rssBefore);
            rss.put("after_load", rssAfterLoad);
            rss.put("after_run", server.rssMb());
            out.put("rss_mb", rss);
            if (child != null) {
                long weightsMb = weightsBytes(modelDir) >> 20;
                Map<String, Object> bound = new LinkedHashMap<>();
                bound.put("weights", weightsMb);
                bound.put("kv_budget", CHILD_KV_BYTES >> 20);
                bound.put("allowance", 400);
                bound.put("total", weightsMb + (CHILD_KV_BYTES >> 20) + 400);
                out.put("rss_bound_mb", bound);
                out.put("nmt_mb", child.nativeMemoryMb());
            }
        }
        System.err.printf(Locale.ROOT, "overload: %s%n", Json.write(out));
        if (json) System.out.println(Json.write(out));
        return 0;
    }

    private Target childTarget(ServeProcess child, String name) {
        return new Target() {
            @Override
            public int port() {
                return child.port();
            }

            @Override
            public int waitingPeak() {
                Matcher m = WAITING_PEAK.matcher(child.metrics());
                int w = 0;
                while (m.find()) w = Math.max(w, (int) Double.parseDouble(m.group(1)));
                return w;
            }

            @Override
            public long rssMb() {
                return child.rssMb();
            }

            @Override
            public Map<Double, Double> rejectionBuckets() {
                Map<Double, Double> b = new LinkedHashMap<>();
                Matcher m = REJECT_BUCKET.matcher(child.metrics());
                while (m.find()) {
                    b.put(m.group(1).equals("+Inf") ? Double.POSITIVE_INFINITY : Double.parseDouble(m.group(1)),
                            Double.parseDouble(m.group(2)));
                }
                return b;
            }

            @Override
            public void close() throws Exception {
                child.close();
            }
        };
    }

    private Target inProcessTarget(ModelRef ref, Path modelDir, String name) {
        TextEngineOptions engine = TextEngineOptions.defaults(modelDir).withName(name)
                .withKvMemoryBytes(IN_PROCESS_KV_BYTES);
        if (threads > 0) engine = engine.withThreads(threads);
        GatewayOptions gateway = GatewayOptions.defaults().withHost("127.0.0.1").withPort(0)
                .withMaxMessageBytes(8 << 20);
        TextConfig lane = TextConfig.defaults().withMaxWaiting(maxWaiting);
        TesseraServer server = TesseraServer.start(gateway, new ModelSpec.Text(engine, lane));
        return new Target() {
            @Override
            public int port() {
                return server.gateway().port();
            }

            @Override
            public int waitingPeak() {
                ModelStats s = server.scheduler().stats(name);
                return s instanceof TextStats t ? t.waitingPeak() : 0;
            }

            @Override
            public long rssMb() {
                return ServeProcess.rssMb(ProcessHandle.current().pid());
            }

            @Override
            public Map<Double, Double> rejectionBuckets() {
                return Map.of();
            }

            @Override
            public void close() {
                server.close();
            }
        };
    }

    /** The warm-up's rounds and the compiler threads' CPU in each, server's and client's. */
    private record WarmUp(List<Overload> rounds, double seconds, List<Long> serverJitMs, List<Long> clientJitMs,
                          boolean jitQuiet) {
        Map<String, Object> json() {
            Map<String, Object> w = new LinkedHashMap<>();
            ConcurrentLinkedQueue<Double> rejectMs = new ConcurrentLinkedQueue<>();
            List<Double> bySecond = new ArrayList<>();
            long sent = 0;
            long rejected = 0;
            for (Overload o : rounds) {
                sent += o.sent;
                rejected += o.rejected.get();
                rejectMs.addAll(o.rejectMs);
                bySecond.addAll(p99BySecond(o.rejectsTimed));
            }
            w.put("seconds", round(seconds));
            w.put("rounds", rounds.size());
            w.put("sent", sent);
            w.put("rejected", rejected);
            w.put("reject_ms", percentiles(rejectMs));
            w.put("reject_p99_ms_by_second", bySecond);
            w.put("jit_ms_by_round", bothSides(serverJitMs, clientJitMs));
            w.put("jit_quiet", jitQuiet);
            return w;
        }
    }

    /** {"server": ..., "client": ...}: a figure of serve's and of this client's, side by side. */
    private static Map<String, Object> bothSides(Object server, Object client) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("server", server);
        m.put("client", client);
        return m;
    }

    /** The canaries beside the storm before the measured ones: the first, and each one's compiler time. */
    private record StallWarmUp(CanaryRun first, List<Long> serverJitMs, List<Long> clientJitMs, boolean jitQuiet) {
        Map<String, Object> json() {
            Map<String, Object> w = new LinkedHashMap<>();
            w.put("passes", serverJitMs.size());
            w.put("jit_ms_by_pass", bothSides(serverJitMs, clientJitMs));
            w.put("jit_quiet", jitQuiet);
            return w;
        }
    }

    /**
     * Canaries beside the storm, one after another, until both processes' compiler threads used under
     * {@value #JIT_QUIET_SHARE} of a core during one, or {@code --stall-warmup-passes} of them.
     */
    private StallWarmUp warmStall(int port, CpuWait serverJit, CpuWait clientJit) throws Exception {
        CompilerRounds jit = new CompilerRounds(serverJit, clientJit);
        CanaryRun first = null;
        boolean quiet;
        do {
            long t0 = System.nanoTime();
            String phase = first == null ? "cold" : "warm-up-" + (jit.count() + 1);
            CanaryRun pass = jit.measure(() -> canaryMaxGap(phase, port, true, 0, canaryTokens));
            if (first == null) first = pass;
            quiet = jit.lastQuiet(Math.round(JIT_QUIET_SHARE * (System.nanoTime() - t0) / 1e6));
            System.err.printf(Locale.ROOT, "overload: stall warm-up pass %d: largest gap %.1f ms, compiler threads %s%n",
                    jit.count(), pass.maxGapMs(), jit.last());
        } while (!quiet && jit.count() < Math.max(1, stallWarmupPasses));
        return new StallWarmUp(first, jit.serverMs, jit.clientMs, quiet);
    }

    /** The CPU of serve's and of this client's JIT compiler threads, round by round. */
    private static final class CompilerRounds {
        private final CpuWait server;
        private final CpuWait client;
        final List<Long> serverMs = new ArrayList<>();
        final List<Long> clientMs = new ArrayList<>();

        CompilerRounds(CpuWait server, CpuWait client) {
            this.server = server;
            this.client = client;
        }

        /** Runs {@code round}, recording both sides' compiler CPU while it ran. */
        <T> T measure(Callable<T> round) throws Exception {
            CpuWait.Mark s0 = server.mark();
            CpuWait.Mark c0 = client.mark();
            T result = round.call();
            serverMs.add(server.mark().cpuMsSince(s0));
            clientMs.add(client.mark().cpuMsSince(c0));
            return result;
        }

        int count() {
            return serverMs.size();
        }

        /** Whether both sides' compilers used under {@code limitMs} in the last round. */
        boolean lastQuiet(long limitMs) {
            return serverMs.get(count() - 1) < limitMs && clientMs.get(count() - 1) < limitMs;
        }

        /** The last round, as the progress lines print it. */
        String last() {
            return serverMs.get(count() - 1) + " ms (serve), " + clientMs.get(count() - 1) + " ms (client)";
        }
    }

    /**
     * Overload at the measured rate in rounds of {@value #WARMUP_ROUND_SECONDS} s (or {@code --warmup-seconds} if
     * shorter) until both processes' compiler threads are quiet in a round or {@code --warmup-seconds} have passed.
     */
    private WarmUp warmUp(Target server, List<ManagedChannel> pool, double rps, List<String> prompts,
                          CpuWait serverJit, CpuWait clientJit) throws Exception {
        List<Overload> rounds = new ArrayList<>();
        CompilerRounds jit = new CompilerRounds(serverJit, clientJit);
        double round = Math.min(WARMUP_ROUND_SECONDS, warmupSeconds);
        long quietMs = Math.round(JIT_QUIET_SHARE * round * 1000);
        long start = System.nanoTime();
        boolean quiet;
        do {
            rounds.add(jit.measure(() -> overload(server, pool, rps, prompts, Math.max(1, Math.round(rps * round)),
                    round + 1)));
            quiet = jit.lastQuiet(quietMs);
            System.err.printf(Locale.ROOT, "overload: warm-up round %d: compiler threads %s%n", rounds.size(),
                    jit.last());
        } while (!quiet && (System.nanoTime() - start) / 1e9 + round <= warmupSeconds);
        return new WarmUp(rounds, (System.nanoTime() - start) / 1e9, jit.serverMs, jit.clientMs, quiet);
    }

    private static final class Overload {
        final AtomicLong accepted = new AtomicLong();
        final AtomicLong rejected = new AtomicLong();
        final AtomicLong otherErrors = new AtomicLong();
        final ConcurrentLinkedQueue<Double> rejectMs = new ConcurrentLinkedQueue<>();
        final ConcurrentLinkedQueue<Double> ttftMs = new ConcurrentLinkedQueue<>();
        /** From the send to the request's headers written to the socket: the client's own queueing. */
        final ConcurrentLinkedQueue<Double> clientQueueMs = new ConcurrentLinkedQueue<>();
        /** The refusal probe's refusals: one request at a time from a client with a transport thread of its own. */
        final ConcurrentLinkedQueue<Double> probeRejectMs = new ConcurrentLinkedQueue<>();
        final AtomicLong probeAccepted = new AtomicLong();
        final AtomicLong sentCount = new AtomicLong();
        /** Each refusal as {seconds from the start of the load to its send, ms to its status}. */
        final ConcurrentLinkedQueue<double[]> rejectsTimed = new ConcurrentLinkedQueue<>();
        /** When the load began (System.nanoTime). */
        volatile long startNanos;
        long sent;
        double sendSeconds;
    }

    /**
     * Open loop: request i is due at start + i/rps; {@code senders} threads each send every senders-th request
     * over the {@code channels} connections (answers are handled on the transport threads); sending stops at
     * {@code --max-seconds}. Waits for every sent request to end.
     */
    private Overload overload(Target server, List<ManagedChannel> pool, double rps, List<String> prompts, long total,
            double maxSeconds) throws Exception {
        Overload o = new Overload();
        AtomicBoolean probing = new AtomicBoolean(true);
        Thread probe = new Thread(() -> refusalProbe(server.port(), o, probing), "refusal-probe");
        probe.setDaemon(true);
        probe.start();
        AtomicLong ended = new AtomicLong();
        long start = System.nanoTime();
        o.startNanos = start;
        long interval = (long) (1e9 / rps);
        long stopAt = start + (long) (maxSeconds * 1e9);
        List<GenerateRequest> messages = new ArrayList<>();
        for (String p : prompts) {
            messages.add(GenerateRequest.newBuilder().setPrompt(p).setSampling(SamplingParams.newBuilder()
                    .setMaxTokens(maxTokens).setIgnoreEos(true)).build());
        }
        List<Thread> threads = new ArrayList<>();
        try {
            for (int t = 0; t < senders; t++) {
                int first = t;
                Thread sender = new Thread(() -> {
                    for (long i = first; i < total; i += senders) {
                        long at = start + i * interval;
                        long wait = at - System.nanoTime();
                        if (wait > 0) LockSupport.parkNanos(wait);
                        if (System.nanoTime() > stopAt) return;
                        o.sentCount.incrementAndGet();
                        send(pool.get((int) (i % pool.size())), messages.get((int) (i % messages.size())), o, ended);
                    }
                }, "overload-sender-" + t);
                sender.start();
                threads.add(sender);
            }
            for (Thread t : threads) t.join();
            o.sent = o.sentCount.get();
            o.sendSeconds = (System.nanoTime() - start) / 1e9;
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
            while (ended.get() < o.sent) {
                if (System.nanoTime() > deadline) throw new IllegalStateException("requests did not end");
                LockSupport.parkNanos(5_000_000);
            }
        } finally {
            probing.set(false);
            probe.join(TimeUnit.SECONDS.toMillis(30));
        }
        return o;
    }

    /**
     * While the overload runs, sends one request every {@value #PROBE_EVERY_MS} ms, each after the previous one
     * ended, over a connection whose transport thread serves nothing else: its refusal latency is the server's
     * answer as a lightly loaded client sees it, without the load generator's own queueing (its thousands of
     * streams share four transport threads). An accepted probe is cancelled at its first token.
     */
    private static void refusalProbe(int port, Overload o, AtomicBoolean probing) {
        NioEventLoopGroup loop = new NioEventLoopGroup(1);
        ManagedChannel channel = NettyChannelBuilder.forAddress("127.0.0.1", port).usePlaintext()
                .eventLoopGroup(loop).channelType(NioSocketChannel.class).directExecutor().build();
        GenerateRequest request = GenerateRequest.newBuilder().setPrompt("A probe asks for a place.")
                .setSampling(SamplingParams.newBuilder().setMaxTokens(4).setIgnoreEos(true)).build();
        try {
            while (probing.get()) {
                CountDownLatch done = new CountDownLatch(1);
                long sent = System.nanoTime();
                ClientCalls.asyncServerStreamingCall(channel.newCall(InferenceGrpc.getGenerateMethod(),
                        CallOptions.DEFAULT), request, new ClientResponseObserver<GenerateRequest, GenerateResponse>() {
                            ClientCallStreamObserver<GenerateRequest> call;

                            @Override
                            public void beforeStart(ClientCallStreamObserver<GenerateRequest> requestStream) {
                                call = requestStream;
                            }

                            @Override
                            public void onNext(GenerateResponse value) {
                                o.probeAccepted.incrementAndGet();
                                call.cancel("probe accepted", null);
                            }

                            @Override
                            public void onError(Throwable t) {
                                if (Status.fromThrowable(t).getCode() == Status.Code.RESOURCE_EXHAUSTED) {
                                    o.probeRejectMs.add((System.nanoTime() - sent) / 1e6);
                                }
                                done.countDown();
                            }

                            @Override
                            public void onCompleted() {
                                done.countDown();
                            }
                        });
                if (!done.await(30, TimeUnit.SECONDS)) break;
                LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(PROBE_EVERY_MS));
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } finally {
            channel.shutdownNow();
            loop.shutdownGracefully(0, 1, TimeUnit.SECONDS);
        }
    }

    /**
     * Sends one request; the send time is taken just before the call starts, and the time its headers reach the
     * socket is recorded (how long the client itself held it).
     */
    private static void send(ManagedChannel channel, GenerateRequest r, Overload o, AtomicLong ended) {
        long sent = System.nanoTime();
        CallOptions options = CallOptions.DEFAULT.withStreamTracerFactory(new ClientStreamTracer.Factory() {
            @Override
            public ClientStreamTracer newClientStreamTracer(ClientStreamTracer.StreamInfo info, Metadata headers) {
                return new ClientStreamTracer() {
                    @Override
                    public void outboundHeaders() {
                        o.clientQueueMs.add((System.nanoTime() - sent) / 1e6);
                    }
                };
            }
        });
        ClientCalls.asyncServerStreamingCall(channel.newCall(InferenceGrpc.getGenerateMethod(), options), r,
                new StreamObserver<GenerateResponse>() {
                    boolean first = true;

                    @Override
                    public void onNext(GenerateResponse value) {
                        if (first && value.hasDelta()) {
                            first = false;
                            o.accepted.incrementAndGet();
                            o.ttftMs.add((System.nanoTime() - sent) / 1e6);
                        }
                    }

                    @Override
                    public void onError(Throwable t) {
                        if (Status.fromThrowable(t).getCode() == Status.Code.RESOURCE_EXHAUSTED && first) {
                            o.rejected.incrementAndGet();
                            double ms = (System.nanoTime() - sent) / 1e6;
                            o.rejectMs.add(ms);
                            o.rejectsTimed.add(new double[] {(sent - o.startNanos) / 1e9, ms});
                        } else {
                            o.otherErrors.incrementAndGet();
                        }
                        ended.incrementAndGet();
                    }

                    @Override
                    public void onCompleted() {
                        ended.incrementAndGet();
                    }
                });
    }

    /**
     * A canary run: the largest gap between the canary's messages, the 4 MB prompts refused beside it, and how long
     * it ran (from its first message to its last).
     */
    private record CanaryRun(double maxGapMs, long hugeRefused, double seconds, double clientGcInMaxGapMs) {
        static double largestGap(List<CanaryRun> runs) {
            return runs.stream().mapToDouble(CanaryRun::maxGapMs).max().orElse(0);
        }

        /** One run as {@code stall.one_at_a_time} and {@code stall.cold} print it. */
        Map<String, Object> json() {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("canary_max_gap_ms", round(maxGapMs));
            m.put("client_gc_in_max_gap_ms", round(clientGcInMaxGapMs));
            m.put("huge_prompts_refused_beside", hugeRefused);
            m.put("huge_prompts_per_s", round(hugeRefused / seconds));
            return m;
        }
    }

    /**
     * The measured canaries: alone, beside the storm process (the measure's storm) and beside the storm thread,
     * {@code --stall-runs} of each.
     */
    private record StallRuns(Arm solo, Arm storm, Arm stormThread) {
    }

    /**
     * One kind of measured canary run over its runs (alone, beside the storm process, beside the storm thread): each
     * run, both JVMs' compiler threads during each, and, summed over the runs, the decode loop's CPU and run-queue
     * wait, serve's GC pauses and this client's collections.
     */
    private static final class Arm {
        final List<CanaryRun> runs = new ArrayList<>();
        final CompilerRounds jit;
        final long[] clientGc = {0, 0};
        private final CpuWait decodeLoop;
        private final @Nullable ServeProcess serve;
        private CpuWait.Mark decodeLoopSum = CpuWait.Mark.ZERO;
        private ServeProcess.GcPauses serverGc = ServeProcess.GcPauses.NONE;

        Arm(CpuWait decodeLoop, @Nullable ServeProcess serve, CpuWait serverJit, CpuWait clientJit) {
            this.decodeLoop = decodeLoop;
            this.serve = serve;
            this.jit = new CompilerRounds(serverJit, clientJit);
        }

        void run(Callable<CanaryRun> canary) throws Exception {
            int gcMark = serve == null ? 0 : serve.gcLogLines();
            long[] clientBefore = clientGc();
            CpuWait.Mark before = decodeLoop.mark();
            runs.add(jit.measure(canary));
            decodeLoopSum = decodeLoopSum.plus(before, decodeLoop.mark());
            long[] clientAfter = clientGc();
            clientGc[0] += clientAfter[0] - clientBefore[0];
            clientGc[1] += clientAfter[1] - clientBefore[1];
            if (serve != null) serverGc = serverGc.plus(serve.gcPausesSince(gcMark));
        }

        double largestGap() {
            return round(CanaryRun.largestGap(runs));
        }

        List<Double> maxGaps() {
            return runs.stream().map(r -> round(r.maxGapMs())).toList();
        }

        /** How much of each run's largest gap this client's JVM spent in its own collections. */
        List<Double> clientGcInMaxGaps() {
            return runs.stream().map(r -> round(r.clientGcInMaxGapMs())).toList();
        }

        long hugeRefused() {
            return runs.stream().mapToLong(CanaryRun::hugeRefused).sum();
        }

        double hugePerSecond() {
            return round(hugeRefused() / runs.stream().mapToDouble(CanaryRun::seconds).sum());
        }

        Map<String, Object> jitMs() {
            return bothSides(jit.serverMs, jit.clientMs);
        }

        Map<String, Object> decodeLoop() {
            return CpuWait.between(CpuWait.Mark.ZERO, decodeLoopSum);
        }

        ServeProcess.@Nullable GcPauses serverGc() {
            return serve == null ? null : serverGc;
        }
    }

    /**
     * Canaries alone, beside the storm thread and beside the storm process, in turn ({@code solo, storm thread,
     * storm process, solo, ...}), {@code --stall-runs} of each. Why several, and in turn: one run's largest gap is
     * one sample of a tail. Alone, it was 7.5-14.8 ms from one bench run to the next on the same build (stop 21-22),
     * a spread as wide as the 2x the measure allows, and one solo run before one storm run put every drift of the
     * machine (compilers settling, other tenants) on one side. Each figure is the largest gap over its runs, and each
     * run's is printed.
     */
    private StallRuns alternate(int port, CpuWait decodeLoop, @Nullable ServeProcess child, CpuWait serverJit,
                                CpuWait clientJit, HugePromptStorm.Child stormProcess) throws Exception {
        Arm solo = new Arm(decodeLoop, child, serverJit, clientJit);
        Arm storm = new Arm(decodeLoop, child, serverJit, clientJit);
        Arm stormThread = new Arm(decodeLoop, child, serverJit, clientJit);
        for (int i = 1; i <= Math.max(1, stallRuns); i++) {
            String suffix = stallRuns > 1 ? "-" + i : "";
            solo.run(() -> canaryMaxGap("solo" + suffix, port, false, 0, canaryTokens));
            stormThread.run(() -> canaryMaxGap("storm_thread" + suffix, port, true, 0, canaryTokens));
            storm.run(() -> canaryBesideStormProcess("storm" + suffix, port, canaryTokens, stormProcess));
        }
        return new StallRuns(solo, storm, stormThread);
    }

    /**
     * A greedy stream of {@code tokens} tokens and the largest gap between its messages. With {@code hostile}, a
     * {@link HugePromptStorm} in a thread of this JVM beside it from its first token until it ends (the stall
     * warm-up, {@code storm_thread}, {@code one_at_a_time}): the storm is a closed loop on the same cores, so the
     * faster the server refuses, the more 4 MB messages its client sends. With
     * {@code pauseMs} > 0 the storm waits that long after each refusal before it sends the next.
     */
    private CanaryRun canaryMaxGap(String phase, int port, boolean hostile, long pauseMs, int tokens)
            throws Exception {
        ManagedChannel storm = NettyChannelBuilder.forAddress("127.0.0.1", port).usePlaintext().build();
        AtomicLong refused = new AtomicLong();
        Thread sender = new Thread(() -> {
            try {
                HugePromptStorm.run(storm, pauseMs, refused::set);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }, "huge-prompts");
        try {
            double[] canary = canary(phase, port, tokens, hostile ? sender::start : () -> { });
            long hugeRefused = refused.get();
            sender.interrupt();
            sender.join(30_000);
            return new CanaryRun(canary[0], hugeRefused, canary[1], canary[2]);
        } finally {
            storm.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
        }
    }

    /**
     * The canary beside the storm run by a process of its own ({@link HugePromptStorm.Child}), paused between runs
     * and let go at the canary's first token; the refusals it had meanwhile (the prompt in flight when the canary
     * ended too).
     *
     * <p>This is the measure's storm: a hostile client on a machine of its own, as well as two shared cores can
     * stand for one. Its process runs at {@code --storm-nice} (19), so that it gets the cores when serve and the
     * canary leave them idle but does not take them from them, and the canary's client shares neither its JVM (its
     * 4 MB serialisations, collections, transport threads, compilers) nor its priority. The server gets the same
     * prompts as fast: 23-30 refused a second at nice 19, 24-25 at nice 0, 23-27 from the thread
     * ({@code storm_thread}), in stop 24's runs. At nice 0 the same process left the canary's largest gap 2.60x, 2.90x and 1.04x its largest
     * alone in three runs, as far over as the thread's: the storm's client spends 5.2-5.4 ms of CPU a 4 MB prompt
     * (serve 2.7-3.3), and at the canary's priority that is CPU the canary waits for, whatever the server does.
     */
    private CanaryRun canaryBesideStormProcess(String phase, int port, int tokens, HugePromptStorm.Child storm)
            throws Exception {
        long before = storm.refused();
        double[] canary = canary(phase, port, tokens, () -> {
            try {
                storm.resume();
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        });
        storm.pause(); // every refusal it had before it stopped has been read by then: the prompt then in flight too
        return new CanaryRun(canary[0], storm.refused() - before, canary[1], canary[2]);
    }

    /** The storm process, started and storming until it has had {@code warmPrompts} refused, then paused. */
    private static HugePromptStorm.Child stormProcess(int port, int nice, int warmPrompts) throws Exception {
        HugePromptStorm.Child storm = HugePromptStorm.Child.start(port, nice);
        try {
            storm.awaitRefused(warmPrompts, 120_000);
            storm.pause();
            System.err.printf(Locale.ROOT, "overload: storm process pid %d, nice %d%n", storm.pid(), nice);
            return storm;
        } catch (Exception | Error e) {
            try {
                storm.close();
            } catch (InterruptedException closing) {
                e.addSuppressed(closing);
                Thread.currentThread().interrupt();
            }
            throw e;
        }
    }

    /**
     * A greedy stream of {@code tokens} tokens on a connection and a transport thread of its own: {largest gap
     * between its messages in ms, seconds from its first message to its last}; {@code onFirst} runs at its first
     * message (the first gap is the time to first token, not a stall).
     *
     * <p>Why a transport thread of its own: grpc-java hands channels built with defaults the threads of one shared
     * event-loop group in turn, so the canary's connection could land on the thread that writes the storm's 4 MB
     * messages (a scheduler trace of a run found both on one thread). Measured with the storm on one transport
     * thread, ten alternating rounds: the canary's largest gap beside it was 16-64 ms (median 28) on that same thread
     * and 15-38 ms (median 20) on its own, alone 5-25 ms either way; and this bench, three alternating pairs: 20-33
     * ms on its own thread, 57-79 ms as it was, alone 11-17 ms either way. A hostile client is never a legitimate
     * client's own transport thread, so the canary gets one.
     */
    private double[] canary(String phase, int port, int tokens, Runnable onFirst)
            throws InterruptedException {
        NioEventLoopGroup transport = new NioEventLoopGroup(1);
        ManagedChannel channel = NettyChannelBuilder.forAddress("127.0.0.1", port).usePlaintext()
                .eventLoopGroup(transport).channelType(NioSocketChannel.class)
                .maxInboundMessageSize(16 << 20).build();
        try {
            GenerateRequest canary = GenerateRequest.newBuilder().setPrompt("The canary sings")
                    .setSampling(SamplingParams.newBuilder().setTemperature(0).setMaxTokens(tokens).setIgnoreEos(true))
                    .build();
            long last = System.nanoTime();
            long firstAt = last;
            double maxGap = 0;
            long maxGapFrom = last;
            var it = InferenceGrpc.newBlockingStub(channel).generate(canary);
            boolean first = true;
            while (it.hasNext()) {
                it.next();
                long now = System.nanoTime();
                if (first) {
                    first = false;
                    firstAt = now;
                    onFirst.run();
                } else if ((now - last) / 1e6 > maxGap) {
                    maxGap = (now - last) / 1e6;
                    maxGapFrom = last;
                }
                last = now;
            }
            // where a scheduler trace (perf sched record -k CLOCK_MONOTONIC) finds this run: tools/sched_gaps.py
            System.err.printf(Locale.ROOT, "overload: canary %s: thread %d, CLOCK_MONOTONIC %.6f to %.6f s%n", phase,
                    nativeThreadId(), firstAt / 1e9, last / 1e9);
            // the client's own collections inside its largest gap: time this JVM stood still, not the server
            ClientPauses pauses = clientPauses;
            double paused = pauses == null ? 0 : pauses.pausedMs(maxGapFrom, maxGapFrom + Math.round(maxGap * 1e6));
            return new double[] {maxGap, Math.max(1e-3, (last - firstAt) / 1e9), paused};
        } finally {
            channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
            transport.shutdownGracefully(0, 5, TimeUnit.SECONDS).await(10, TimeUnit.SECONDS);
        }
    }

    /** The Linux id of the calling thread (as {@code perf} and {@code /proc} name it), or -1 elsewhere. */
    private static long nativeThreadId() {
        try {
            return Long.parseLong(Files.readSymbolicLink(Path.of("/proc/thread-self")).getFileName().toString());
        } catch (IOException | RuntimeException e) {
            return -1;
        }
    }

    /** This JVM's garbage collections so far: {count, milliseconds}. */
    private static long[] clientGc() {
        long count = 0;
        long ms = 0;
        for (var gc : java.lang.management.ManagementFactory.getGarbageCollectorMXBeans()) {
            count += Math.max(0, gc.getCollectionCount());
            ms += Math.max(0, gc.getCollectionTime());
        }
        return new long[] {count, ms};
    }

    /** Bytes of the model's weight files. */
    private static long weightsBytes(Path dir) throws IOException {
        try (var files = Files.walk(dir)) {
            return files.filter(f -> f.toString().endsWith(".safetensors")).mapToLong(f -> {
                try {
                    return Files.size(f);
                } catch (IOException e) {
                    return 0;
                }
            }).sum();
        }
    }

    /** The p99 of the refusals sent in each second of the load, in order (a second without refusals: 0). */
    static List<Double> p99BySecond(Collection<double[]> timed) {
        List<List<Double>> seconds = new ArrayList<>();
        for (double[] t : timed) {
            int sec = (int) Math.max(0, t[0]);
            while (seconds.size() <= sec) seconds.add(new ArrayList<>());
            seconds.get(sec).add(t[1]);
        }
        List<Double> out = new ArrayList<>();
        for (List<Double> ms : seconds) {
            if (ms.isEmpty()) {
                out.add(0.0);
                continue;
            }
            Collections.sort(ms);
            out.add(round(ms.get((int) Math.min(ms.size() - 1, Math.floor(ms.size() * 0.99)))));
        }
        return out;
    }

    private static Map<String, Object> percentiles(ConcurrentLinkedQueue<Double> values) {
        double[] v = values.stream().mapToDouble(Double::doubleValue).sorted().toArray();
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("p50", v.length == 0 ? 0 : round(v[(int) Math.min(v.length - 1, Math.floor(v.length * 0.50))]));
        m.put("p99", v.length == 0 ? 0 : round(v[(int) Math.min(v.length - 1, Math.floor(v.length * 0.99))]));
        return m;
    }

    /** p50 and p99 of a cumulative histogram, as the upper bound (ms) of the bucket each falls in. */
    private static Map<String, Object> bucketPercentiles(Map<Double, Double> cumulative) {
        double count = cumulative.getOrDefault(Double.POSITIVE_INFINITY, 0.0);
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("count", (long) count);
        for (double p : new double[] {0.50, 0.99}) {
            double bound = 0;
            for (var e : cumulative.entrySet().stream().sorted(Map.Entry.comparingByKey()).toList()) {
                bound = e.getKey();
                if (e.getValue() >= p * count) break;
            }
            m.put(p == 0.50 ? "p50_at_most" : "p99_at_most", Double.isInfinite(bound) ? "+Inf" : round(bound * 1000));
        }
        return m;
    }

    private static double round(double v) {
        return Math.round(v * 100) / 100.0;
    }
}
