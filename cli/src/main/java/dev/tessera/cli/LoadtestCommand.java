package dev.tessera.cli;

import dev.tessera.loadtest.measure.OutputNames;
import dev.tessera.loadtest.measure.Slo;
import dev.tessera.loadtest.report.ReportWriter;
import dev.tessera.loadtest.sweep.LoadPoint;
import dev.tessera.loadtest.sweep.LoadRun;
import dev.tessera.loadtest.sweep.Progress;
import dev.tessera.loadtest.sweep.RunLimits;
import dev.tessera.loadtest.sweep.RunResult;
import dev.tessera.loadtest.sweep.SweepOutput;
import dev.tessera.loadtest.transport.DetectTransport;
import dev.tessera.loadtest.transport.DiffuseTransport;
import dev.tessera.loadtest.transport.GenerateTransport;
import dev.tessera.loadtest.transport.SessionTransport;
import dev.tessera.loadtest.transport.SseTransport;
import dev.tessera.loadtest.transport.Transport;
import dev.tessera.loadtest.workload.ChatImage;
import dev.tessera.loadtest.workload.JsonlWorkload;
import dev.tessera.loadtest.workload.LengthDistribution;
import dev.tessera.loadtest.workload.SyntheticWorkload;
import dev.tessera.loadtest.workload.Workload;
import java.io.PrintStream;
import java.net.InetAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import org.jspecify.annotations.Nullable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/**
 * {@code loadtest}: drives a running server at one or several request rates and reports TTFT, TPOT, ITL, end-to-end
 * latency, throughput and goodput (module {@code loadtest}).
 */
@Command(name = "loadtest", mixinStandardHelpOptions = true, sortOptions = false,
        description = "Sends a bounded load to a running server (loopback only unless --allow-remote) and reports"
                + " TTFT, TPOT, ITL and end-to-end latency (mean, std, p50, p90, p99), request and token throughput,"
                + " goodput under SLOs and errors by status. Progress on stderr, the summary table on stdout"
                + " (--json: a JSON object as the last line).")
final class LoadtestCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Option(names = "--host", description = "Server host (default: from $TESSERA_ADDR, else 127.0.0.1).")
    @Nullable String host;

    @Option(names = "--port", description = "Server port (default: from $TESSERA_ADDR, else 8080).")
    @Nullable Integer port;

    @Option(names = "--failover", split = ",", paramLabel = "HOST:PORT", description = "grpc: other replicas; a"
            + " stream that breaks (UNAVAILABLE) resumes on the next one with the tokens received so far"
            + " (resume_token_ids).")
    List<String> failover;

    @Option(names = "--allow-remote", description = "Allow a host that is not a loopback address.")
    boolean allowRemote;

    @Option(names = "--transport", defaultValue = "grpc", description = "grpc (Generate, one call per request),"
            + " session (all requests as jobs on one Session stream) or sse (OpenAI /v1/completions and"
            + " /v1/chat/completions over server-sent events). Default: ${DEFAULT-VALUE}.")
    String transport;

    @Option(names = "--kind", defaultValue = "generate", description = "Job kind: generate (prompts and text chats)"
            + " or chat-image (each synthetic request a user message with the --image files, then the prompt; to"
            + " " + GenerateCommand.VISION_DEFAULT + " unless --model), or diffuse (Diffuse calls of the synthetic"
            + " prompts: time to first preview, preview gaps, image latency) or detect (each request a Detect stream"
            + " of --frames copies of --image at --fps: frame latency, skipped frames).")
    String kind;

    @Option(names = "--steps", defaultValue = "4", description = "With --kind diffuse: denoising steps."
            + " Default: ${DEFAULT-VALUE}.")
    int steps;

    @Option(names = "--preview-every", defaultValue = "1", description = "With --kind diffuse: a preview every N"
            + " steps (0: none). Default: ${DEFAULT-VALUE}.")
    int previewEvery;

    @Option(names = "--frames", defaultValue = "30", description = "With --kind detect: frames per stream."
            + " Default: ${DEFAULT-VALUE}.")
    int frames;

    @Option(names = "--fps", defaultValue = "10", description = "With --kind detect: frames per second of each"
            + " stream. Default: ${DEFAULT-VALUE}.")
    double fps;

    @Option(names = "--image", paramLabel = "FILE", description = "With --kind chat-image: a PNG or JPEG sent in"
            + " every synthetic request (repeatable); with --kind detect: the frame (the first one given).")
    @Nullable List<Path> images;

    @Option(names = "--model", defaultValue = "", description = "Model name; empty = the server's default (for"
            + " chat-image: " + GenerateCommand.VISION_DEFAULT + ").")
    String model;

    @Option(names = "--dataset", paramLabel = "FILE", description = "JSONL requests, one a line: {\"prompt\": ...,"
            + " \"max_tokens\": N} or {\"messages\": [{\"role\": ..., \"content\": ...}], \"max_tokens\": N}; cycled."
            + " Without it: synthetic prompts.")
    @Nullable Path dataset;

    @Option(names = "--input-len", defaultValue = "64", description = "Synthetic prompt length in words: N, MIN:MAX"
            + " (uniform) or normal:MEAN:STD. Default: ${DEFAULT-VALUE}.")
    String inputLength;

    @Option(names = "--output-len", defaultValue = "32", description = "Synthetic output length in tokens (with"
            + " ignore_eos); for --dataset, the max_tokens of lines without one. N, MIN:MAX or normal:MEAN:STD."
            + " Default: ${DEFAULT-VALUE}.")
    String outputLength;

    @Option(names = "--rate", description = "Request rate (req/s) of an open loop; several: --rates.")
    @Nullable Double rate;

    @Option(names = "--rates", split = ",", paramLabel = "R1,R2,...", description = "A sweep: one run per rate,"
            + " in order.")
    @Nullable List<Double> rates;

    @Option(names = "--burstiness", defaultValue = "1", description = "Gamma shape of the inter-arrival gaps: 1 ="
            + " Poisson, < 1 burstier, > 1 more regular. Default: ${DEFAULT-VALUE}.")
    double burstiness;

    @Option(names = "--concurrency", defaultValue = "0", description = "Requests in flight at most; alone (no"
            + " rate): a closed loop keeping that many in flight.")
    int concurrency;

    @Option(names = "--duration", defaultValue = "30s", description = "Send for at most this long per rate"
            + " (e.g. 20s, 2m, 500ms). Default: ${DEFAULT-VALUE}.")
    String duration;

    @Option(names = "--max-requests", defaultValue = "1000", description = "Send at most this many requests per"
            + " rate. Default: ${DEFAULT-VALUE}.")
    int maxRequests;

    @Option(names = "--drain", defaultValue = "60s", description = "After sending, wait this long for the requests"
            + " in flight; the rest fail as DRAIN_TIMEOUT. Default: ${DEFAULT-VALUE}.")
    String drain;

    @Option(names = "--goodput", arity = "1..*", paramLabel = "NAME:MS", description = "SLOs for goodput:"
            + " ttft:MS tpot:MS e2el:MS (any of them); a request is good when it meets all given.")
    @Nullable List<String> goodput;

    @Option(names = "--connections", defaultValue = "4", description = "grpc: HTTP/2 connections. Default:"
            + " ${DEFAULT-VALUE}.")
    int connections;

    @Option(names = "--seed", defaultValue = "0", description = "Seed of the arrivals and the synthetic workload.")
    long seed;

    @Option(names = "--warmup", defaultValue = "0", description = "Requests sent (4 at a time) and not measured"
            + " before the first run, to open connections and warm both sides up. Default: ${DEFAULT-VALUE}.")
    int warmup;

    @Option(names = "--json", description = "Print the summary as one JSON object, as the last line of stdout.")
    boolean json;

    @Option(names = "--raw", paramLabel = "FILE", description = "Write every request's measures as JSONL.")
    @Nullable Path raw;

    @Option(names = "--report", paramLabel = "DIR", description = "Write PNG plots and index.html into DIR.")
    @Nullable Path report;

    @Option(names = "--no-progress", description = "No progress bar on stderr.")
    boolean noProgress;

    @Override
    public Integer call() throws Exception {
        if (!List.of("generate", "chat-image", "diffuse", "detect").contains(kind)) {
            throw new ParameterException(spec.commandLine(), "--kind is generate, chat-image, diffuse or detect, got '"
                    + kind + "'");
        }
        if ((kind.equals("diffuse") || kind.equals("detect")) && !transport.equals("grpc")) {
            throw new ParameterException(spec.commandLine(), "--kind " + kind + " goes over --transport grpc");
        }
        List<ChatImage> pictures = new ArrayList<>();
        if (kind.equals("chat-image") || kind.equals("detect")) {
            if ((images == null || images.isEmpty()) && dataset == null) {
                throw new ParameterException(spec.commandLine(), "--kind " + kind + " needs --image FILE"
                        + (kind.equals("detect") ? "" : " (or a --dataset whose messages carry image_url parts)"));
            }
            if (images != null) for (Path p : images) pictures.add(ChatImage.read(p));
            if (model.isEmpty() && kind.equals("chat-image")) model = GenerateCommand.VISION_DEFAULT;
        } else if (images != null && !images.isEmpty()) {
            throw new ParameterException(spec.commandLine(), "--image needs --kind chat-image or detect");
        }
        GenerateCommand.Address at = GenerateCommand.Address.of(host, port);
        if (!allowRemote && !InetAddress.getByName(at.host()).isLoopbackAddress()) {
            throw new ParameterException(spec.commandLine(), at.host() + " is not a loopback address: loadtest"
                    + " sends to loopback only unless --allow-remote");
        }
        List<LoadPoint> points = points();
        Slo slo = goodput == null ? Slo.NONE : Slo.parse(goodput);
        RunLimits limits = new RunLimits(duration(duration), maxRequests, duration(drain));
        PrintStream out = new PrintStream(System.out, true, StandardCharsets.UTF_8);
        List<RunResult> results = new ArrayList<>();
        OutputNames names;
        try (Transport t = transport(at, pictures)) {
            names = t.names();
            if (warmup > 0) {
                try (Progress progress = noProgress ? Progress.none()
                        : Progress.on(System.err, "warmup", warmup, limits.duration().toNanos())) {
                    new LoadRun(t, workload(pictures), new LoadPoint(Double.POSITIVE_INFINITY, 1, Math.min(4, warmup)),
                            new RunLimits(limits.duration(), warmup, limits.drain()), seed - 1, Slo.NONE)
                            .run(progress);
                }
            }
            for (int i = 0; i < points.size(); i++) {
                LoadPoint p = points.get(i);
                Workload workload = workload(pictures);
                String label = String.format(Locale.ROOT, "[%d/%d] %s", i + 1, points.size(), p.label());
                try (Progress progress = noProgress ? Progress.none()
                        : Progress.on(System.err, label, maxRequests, limits.duration().toNanos())) {
                    results.add(new LoadRun(t, workload, p, limits, seed + i, slo).run(progress));
                }
            }
        }
        String table = SweepOutput.table(transport, names, results, slo);
        out.print(table);
        if (raw != null) SweepOutput.writeRaw(raw, results);
        if (report != null) {
            System.setProperty("java.awt.headless", "true");
            ReportWriter.write(report, "Tessera loadtest: " + kind + " over " + transport
                    + (model.isEmpty() ? "" : ", " + model), names, table, results);
            System.err.println("report: " + report.resolve("index.html"));
        }
        if (json) out.println(SweepOutput.json(kind, transport, model, results, slo));
        boolean anyOk = results.stream().anyMatch(r -> r.summary().completed() > 0);
        return anyOk ? 0 : 1;
    }

    private List<LoadPoint> points() {
        List<Double> list = new ArrayList<>();
        if (rates != null) list.addAll(rates);
        if (rate != null) list.add(rate);
        if (list.isEmpty()) {
            if (concurrency <= 0) {
                throw new ParameterException(spec.commandLine(), "give --rate, --rates or --concurrency");
            }
            return List.of(new LoadPoint(Double.POSITIVE_INFINITY, burstiness, concurrency));
        }
        List<LoadPoint> points = new ArrayList<>();
        for (double r : list) points.add(new LoadPoint(r, burstiness, concurrency));
        return points;
    }

    private Workload workload(List<ChatImage> pictures) throws java.io.IOException {
        LengthDistribution out = LengthDistribution.parse(outputLength);
        if (dataset != null) {
            return JsonlWorkload.read(dataset, (int) Math.round(out.mean()));
        }
        return new SyntheticWorkload(LengthDistribution.parse(inputLength), out,
                kind.equals("chat-image") ? pictures : List.of(), seed);
    }

    private Transport transport(GenerateCommand.Address at, List<ChatImage> pictures) {
        if (kind.equals("diffuse")) return new DiffuseTransport(at.host(), at.port(), model, steps, previewEvery);
        if (kind.equals("detect")) {
            return new DetectTransport(at.host(), at.port(), model, pictures.get(0), frames, fps);
        }
        return switch (transport) {
            case "grpc" -> new GenerateTransport(replicas(at), connections, model);
            case "session" -> new SessionTransport(at.host(), at.port(), model);
            case "sse" -> new SseTransport(at.host(), at.port(), model);
            default -> throw new ParameterException(spec.commandLine(),
                    "--transport is grpc, session or sse, got '" + transport + "'");
        };
    }

    /** The server, then the --failover replicas (loopback unless --allow-remote). */
    private List<java.net.InetSocketAddress> replicas(GenerateCommand.Address at) {
        List<java.net.InetSocketAddress> out = new java.util.ArrayList<>();
        out.add(java.net.InetSocketAddress.createUnresolved(at.host(), at.port()));
        for (String f : failover == null ? List.<String>of() : failover) {
            GenerateCommand.Address r = GenerateCommand.Address.of(null, null, f);
            try {
                if (!allowRemote && !InetAddress.getByName(r.host()).isLoopbackAddress()) {
                    throw new ParameterException(spec.commandLine(), "--failover " + f + " is not a loopback address"
                            + " (use --allow-remote)");
                }
            } catch (java.net.UnknownHostException e) {
                throw new ParameterException(spec.commandLine(), "--failover " + f + ": unknown host");
            }
            out.add(java.net.InetSocketAddress.createUnresolved(r.host(), r.port()));
        }
        return out;
    }

    /** Parses {@code 500ms}, {@code 20s}, {@code 2m} or a number of seconds. */
    static Duration duration(String text) {
        String t = text.trim().toLowerCase(Locale.ROOT);
        try {
            if (t.endsWith("ms")) return Duration.ofMillis(Long.parseLong(t.substring(0, t.length() - 2)));
            if (t.endsWith("s")) return Duration.ofMillis(Math.round(Double.parseDouble(t.substring(0, t.length() - 1)) * 1000));
            if (t.endsWith("m")) return Duration.ofSeconds(Math.round(Double.parseDouble(t.substring(0, t.length() - 1)) * 60));
            return Duration.ofMillis(Math.round(Double.parseDouble(t) * 1000));
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("a duration is like 500ms, 20s or 2m, got '" + text + "'");
        }
    }
}
