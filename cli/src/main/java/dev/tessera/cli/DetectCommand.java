package dev.tessera.cli;

import com.google.protobuf.ByteString;
import dev.tessera.api.v1.Box;
import dev.tessera.api.v1.DetectRequest;
import dev.tessera.api.v1.Detection;
import dev.tessera.api.v1.Detections;
import dev.tessera.api.v1.Image;
import dev.tessera.api.v1.ImageFormat;
import dev.tessera.api.v1.InferenceGrpc;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.StreamObserver;
import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.awt.FontMetrics;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.geom.Rectangle2D;
import java.awt.image.BufferedImage;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import javax.imageio.ImageIO;
import org.jspecify.annotations.Nullable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code detect}: a gRPC client of the bidirectional {@code Detect} RPC for one image. It sends the file's bytes as
 * one frame (PNG or JPEG, sniffed from the magic bytes; anything else is sent unspecified and the server says what
 * is wrong), half-closes, and prints the answer as one JSON object on stdout. With {@code --out} it also draws the
 * boxes and "label score" captions on the decoded image and writes it as a PNG.
 */
@Command(name = "detect", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Runs object detection on one image on a running server and prints the detections as one "
            + "JSON object on stdout.",
            "With --out, also writes the image with labelled boxes drawn on it (PNG)."})
final class DetectCommand implements Callable<Integer> {
    /** The frame number this client sends (echoed in the answer). */
    static final long FRAME_ID = 1;

    @Option(names = "--host", description = "Server host (default: from $TESSERA_ADDR, else 127.0.0.1).")
    @Nullable String host;

    @Option(names = "--port", description = "Server port (default: from $TESSERA_ADDR, else 8080).")
    @Nullable Integer port;

    @Option(names = {"-i", "--image"}, required = true, paramLabel = "FILE", description = "A PNG or JPEG image.")
    Path image;

    @Option(names = {"-o", "--out"}, paramLabel = "FILE",
            description = "Also write the image with the boxes drawn on it, as a PNG.")
    @Nullable Path out;

    @Option(names = "--model", defaultValue = "", description = "Detection model; empty = the server's default.")
    String model;

    @Option(names = "--threshold", description = "Minimum score in [0, 1]; unset = the server's (0.5).")
    @Nullable Float threshold;

    @Option(names = "--max-detections", description = "At most this many detections, best first (1..1000); "
            + "unset = the server's (100).")
    @Nullable Integer maxDetections;

    @Option(names = "--label", paramLabel = "NAME", description = "Keep only this label (repeatable).")
    @Nullable List<String> labels;

    @Option(names = "--timeout", defaultValue = "60", description = "Deadline in seconds (default: ${DEFAULT-VALUE}).")
    long timeoutSeconds;

    @Override
    public Integer call() throws Exception {
        byte[] bytes;
        try {
            bytes = Files.readAllBytes(image);
        } catch (IOException e) {
            System.err.println("error: cannot read --image " + image + ": " + e);
            return 2;
        }
        ImageFormat format = sniff(bytes);
        DetectRequest.Builder request = DetectRequest.newBuilder().setModel(model).setFrameId(FRAME_ID)
                .setImage(Image.newBuilder().setData(ByteString.copyFrom(bytes)).setFormat(format));
        if (threshold != null) request.setThreshold(threshold);
        if (maxDetections != null) request.setMaxDetections(maxDetections);
        if (labels != null) request.addAllLabels(labels);

        GenerateCommand.Address at = GenerateCommand.Address.of(host, port);
        ManagedChannel channel = NettyChannelBuilder.forAddress(at.host(), at.port()).usePlaintext().build();
        Detections answer;
        long start = System.nanoTime();
        try {
            answer = detectOnce(channel, request.build());
        } catch (ExecutionException e) {
            Status s = Status.fromThrowable(e.getCause());
            System.err.println("error: " + s.getCode() + ": " + s.getDescription()
                    + (GenerateCommand.nothingAnswered(e.getCause()) ? " (is a server running at " + at
                    + "? start one with 'bin/engine serve', or point " + GenerateCommand.ADDRESS_ENV
                    + " or --host/--port at it)" : ""));
            return 2;
        } catch (TimeoutException e) {
            System.err.println("error: no answer from " + at + " within " + timeoutSeconds + " s");
            return 2;
        } finally {
            channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
        }
        double clientMs = (System.nanoTime() - start) / 1e6;

        BufferedImage decoded = decode(bytes);
        PrintStream stdout = new PrintStream(System.out, true, StandardCharsets.UTF_8);
        stdout.println(json(answer, format, decoded, clientMs));
        if (out != null) {
            if (decoded == null) {
                System.err.println("error: the server read " + image + " but this client cannot decode it to draw"
                        + " on it; --out not written");
                return 1;
            }
            BufferedImage annotated = annotate(decoded, answer.getDetectionsList());
            try {
                if (!ImageIO.write(annotated, "png", out.toFile())) {
                    System.err.println("error: no PNG writer available; --out not written");
                    return 1;
                }
            } catch (IOException e) {
                System.err.println("error: cannot write --out " + out + ": " + e);
                return 1;
            }
            System.err.println("wrote " + out + " (" + answer.getDetectionsCount() + " boxes)");
        }
        return 0;
    }

    /** Sends one frame, half-closes, and waits for the answer and the end of the call. */
    private Detections detectOnce(ManagedChannel channel, DetectRequest request)
            throws ExecutionException, TimeoutException, InterruptedException {
        CompletableFuture<List<Detections>> done = new CompletableFuture<>();
        List<Detections> answers = new ArrayList<>();
        StreamObserver<DetectRequest> frames = InferenceGrpc.newStub(channel)
                .withDeadlineAfter(timeoutSeconds, TimeUnit.SECONDS)
                .detect(new StreamObserver<>() {
                    @Override
                    public void onNext(Detections d) {
                        synchronized (answers) {
                            answers.add(d);
                        }
                    }

                    @Override
                    public void onError(Throwable t) {
                        done.completeExceptionally(t);
                    }

                    @Override
                    public void onCompleted() {
                        synchronized (answers) {
                            done.complete(List.copyOf(answers));
                        }
                    }
                });
        frames.onNext(request);
        frames.onCompleted();
        // The deadline ends the call; the extra seconds only guard against a call that never ends.
        List<Detections> all = done.get(timeoutSeconds + 10, TimeUnit.SECONDS);
        for (Detections d : all) {
            if (d.getFrameId() == request.getFrameId()) return d;
        }
        throw new ExecutionException(Status.INTERNAL.withDescription("the call ended without an answer to frame "
                + request.getFrameId()).asRuntimeException());
    }

    /** PNG or JPEG from the magic bytes; anything else is left to the server to refuse. */
    static ImageFormat sniff(byte[] b) {
        if (b.length >= 8 && (b[0] & 0xff) == 0x89 && b[1] == 'P' && b[2] == 'N' && b[3] == 'G') {
            return ImageFormat.IMAGE_FORMAT_PNG;
        }
        if (b.length >= 3 && (b[0] & 0xff) == 0xff && (b[1] & 0xff) == 0xd8 && (b[2] & 0xff) == 0xff) {
            return ImageFormat.IMAGE_FORMAT_JPEG;
        }
        return ImageFormat.IMAGE_FORMAT_UNSPECIFIED;
    }

    private static @Nullable BufferedImage decode(byte[] bytes) {
        System.setProperty("java.awt.headless", System.getProperty("java.awt.headless", "true"));
        try {
            return ImageIO.read(new ByteArrayInputStream(bytes));
        } catch (IOException | RuntimeException e) {
            return null;
        }
    }

    /** The answer as one JSON object: detections best first, skipped frames, server and client timings. */
    static String json(Detections d, ImageFormat format, @Nullable BufferedImage decoded, double clientMs) {
        StringBuilder sb = new StringBuilder();
        sb.append("{\"frame_id\":").append(Long.toUnsignedString(d.getFrameId()));
        sb.append(",\"image\":{\"format\":");
        string(sb, switch (format) {
            case IMAGE_FORMAT_PNG -> "png";
            case IMAGE_FORMAT_JPEG -> "jpeg";
            default -> "unknown";
        });
        if (decoded != null) {
            sb.append(",\"width\":").append(decoded.getWidth()).append(",\"height\":").append(decoded.getHeight());
        }
        sb.append("},\"detections\":[");
        for (int i = 0; i < d.getDetectionsCount(); i++) {
            Detection det = d.getDetections(i);
            Box b = det.getBox();
            if (i > 0) sb.append(',');
            sb.append("{\"label\":");
            string(sb, det.getLabel());
            sb.append(",\"label_id\":").append(Integer.toUnsignedString(det.getLabelId()))
                    .append(",\"score\":").append(number(det.getScore()))
                    .append(",\"box\":{\"x_min\":").append(number(b.getXMin()))
                    .append(",\"y_min\":").append(number(b.getYMin()))
                    .append(",\"x_max\":").append(number(b.getXMax()))
                    .append(",\"y_max\":").append(number(b.getYMax())).append("}}");
        }
        sb.append("],\"skipped_frames\":").append(Integer.toUnsignedString(d.getSkippedFrames()));
        sb.append(",\"timings\":{\"queue_ms\":").append(ms(d.getTimings().getQueueMs()))
                .append(",\"e2e_ms\":").append(ms(d.getTimings().getE2EMs()))
                .append(",\"client_ms\":").append(ms(clientMs)).append("}}");
        return sb.toString();
    }

    /**
     * The image with each detection's box and a "label score" caption drawn on it, the best detection on top; one
     * colour per label. Boxes reaching past the edges (DETR does not clip them) are clipped by the drawing.
     */
    static BufferedImage annotate(BufferedImage src, List<Detection> detections) {
        int w = src.getWidth();
        int h = src.getHeight();
        BufferedImage canvas = new BufferedImage(w, h, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = canvas.createGraphics();
        try {
            g.drawImage(src, 0, 0, null);
            g.setRenderingHint(RenderingHints.KEY_ANTIALIASING, RenderingHints.VALUE_ANTIALIAS_ON);
            g.setRenderingHint(RenderingHints.KEY_TEXT_ANTIALIASING, RenderingHints.VALUE_TEXT_ANTIALIAS_ON);
            int side = Math.min(w, h);
            g.setStroke(new BasicStroke(Math.max(2f, side / 200f)));
            g.setFont(new Font(Font.SANS_SERIF, Font.BOLD, Math.max(11, side / 36)));
            FontMetrics fm = g.getFontMetrics();
            for (int i = detections.size() - 1; i >= 0; i--) {
                Detection d = detections.get(i);
                Box b = d.getBox();
                Color color = labelColor(d.getLabelId());
                g.setColor(color);
                g.draw(new Rectangle2D.Float(b.getXMin(), b.getYMin(), b.getXMax() - b.getXMin(),
                        b.getYMax() - b.getYMin()));
                String caption = d.getLabel() + " " + String.format(Locale.ROOT, "%.2f", d.getScore());
                int tw = fm.stringWidth(caption) + 6;
                int th = fm.getHeight() + 2;
                int tx = clamp(Math.round(b.getXMin()), 0, Math.max(0, w - tw));
                int ty = Math.round(b.getYMin()) - th;
                if (ty < 0) ty = clamp(Math.round(b.getYMin()), 0, Math.max(0, h - th)); // inside the box's top
                g.fillRect(tx, ty, tw, th);
                g.setColor(luminance(color) > 0.55 ? Color.BLACK : Color.WHITE);
                g.drawString(caption, tx + 3, ty + 1 + fm.getAscent());
            }
        } finally {
            g.dispose();
        }
        return canvas;
    }

    private static Color labelColor(int labelId) {
        float hue = (labelId * 0.618034f) % 1f;
        return Color.getHSBColor(hue, 0.85f, 0.95f);
    }

    private static double luminance(Color c) {
        return (0.299 * c.getRed() + 0.587 * c.getGreen() + 0.114 * c.getBlue()) / 255.0;
    }

    private static int clamp(int v, int lo, int hi) {
        return Math.max(lo, Math.min(hi, v));
    }

    private static String number(float v) {
        return Float.isFinite(v) ? Float.toString(v) : "null";
    }

    private static String ms(double v) {
        return String.format(Locale.ROOT, "%.3f", v);
    }

    private static void string(StringBuilder sb, String s) {
        sb.append('"');
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '"' -> sb.append("\\\"");
                case '\\' -> sb.append("\\\\");
                case '\n' -> sb.append("\\n");
                case '\r' -> sb.append("\\r");
                case '\t' -> sb.append("\\t");
                default -> {
                    if (c < 0x20) sb.append(String.format(Locale.ROOT, "\\u%04x", (int) c)); else sb.append(c);
                }
            }
        }
        sb.append('"');
    }
}
