package dev.tessera.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tessera.builtin.ModelRef;
import dev.tessera.engine.detect.DetrOptions;
import dev.tessera.gateway.GatewayOptions;
import dev.tessera.gateway.ModelSpec;
import dev.tessera.gateway.TesseraServer;
import dev.tessera.scheduler.Scheduler;
import dev.tessera.scheduler.detect.DetectConfig;
import java.awt.Color;
import java.awt.Graphics2D;
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code detect} against a real server on a loopback port serving {@code builtin:detr-tiny} (random weights, so
 * the detections are checked for their form, not their meaning): the JSON it prints, the annotated PNG, the label
 * filter, and one-line errors for a corrupt image and a missing server.
 */
@Timeout(180)
class DetectCommandTest {
    @TempDir
    static Path cache;
    private static TesseraServer server;
    private static List<String> labels;

    @BeforeAll
    static void start() {
        Path dir = new ModelRef("builtin:detr-tiny").resolve(cache);
        DetrOptions engine = DetrOptions.defaults(dir).withName("detr-tiny").withCacheDir(cache).withThreads(2);
        server = TesseraServer.start(GatewayOptions.defaults().withHost("127.0.0.1").withPort(0),
                List.of(new ModelSpec.Detector(engine, DetectConfig.defaults())), Scheduler.builder());
        labels = server.scheduler().models().get(0).labels();
    }

    @AfterAll
    static void stop() {
        if (server != null) server.close();
    }

    /** Exit code, stdout and stderr of one command line. */
    record Run(int exit, String out, String err) {
        JsonValue json() {
            String[] lines = out.trim().split("\n");
            return JsonValue.parse(lines[lines.length - 1]);
        }
    }

    static Run run(String... args) {
        PrintStream out = System.out;
        PrintStream err = System.err;
        ByteArrayOutputStream o = new ByteArrayOutputStream();
        ByteArrayOutputStream e = new ByteArrayOutputStream();
        try {
            System.setOut(new PrintStream(o, true, StandardCharsets.UTF_8));
            System.setErr(new PrintStream(e, true, StandardCharsets.UTF_8));
            int exit = Main.execute(args);
            return new Run(exit, o.toString(StandardCharsets.UTF_8), e.toString(StandardCharsets.UTF_8));
        } finally {
            System.setOut(out);
            System.setErr(err);
        }
    }

    private static String port() {
        return String.valueOf(server.gateway().port());
    }

    /** A picture with some shapes on it, so that the frame is not flat. */
    private static BufferedImage picture(int w, int h, long seed) {
        BufferedImage img = new BufferedImage(w, h, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = img.createGraphics();
        Random rnd = new Random(seed);
        g.setColor(new Color(200, 220, 240));
        g.fillRect(0, 0, w, h);
        for (int i = 0; i < 6; i++) {
            g.setColor(new Color(rnd.nextInt(256), rnd.nextInt(256), rnd.nextInt(256)));
            g.fillOval(rnd.nextInt(w), rnd.nextInt(h), 20 + rnd.nextInt(w / 2), 20 + rnd.nextInt(h / 2));
        }
        g.dispose();
        return img;
    }

    @Test
    void printsTheDetectionsAsJsonAndDrawsThemOnAPng(@TempDir Path tmp) throws Exception {
        Path in = tmp.resolve("scene.png");
        BufferedImage picture = picture(320, 240, 7);
        ImageIO.write(picture, "png", in.toFile());
        Path annotated = tmp.resolve("annotated.png");

        Run r = run("detect", "--port", port(), "--image", in.toString(), "--threshold", "0",
                "--max-detections", "5", "--out", annotated.toString());

        assertEquals(0, r.exit(), r.err());
        JsonValue json = r.json();
        assertEquals(DetectCommand.FRAME_ID, json.get("frame_id").asLong());
        assertEquals("png", json.get("image").get("format").asText());
        assertEquals(320, json.get("image").get("width").asInt());
        assertEquals(240, json.get("image").get("height").asInt());
        assertEquals(0, json.get("skipped_frames").asInt());
        assertTrue(json.get("timings").get("e2e_ms").asDouble() > 0, json.toString());
        assertTrue(json.get("timings").has("queue_ms") && json.get("timings").has("client_ms"), json.toString());
        JsonValue dets = json.get("detections");
        // Threshold 0 keeps every query (a softmax score is > 0), so max_detections decides the count.
        assertEquals(5, dets.size(), json.toString());
        checkDetections(dets, 320, 240);

        BufferedImage drawn = ImageIO.read(annotated.toFile());
        assertNotNull(drawn, "--out is a readable PNG");
        assertEquals(320, drawn.getWidth());
        assertEquals(240, drawn.getHeight());
        assertTrue(differingPixels(picture, drawn) > 0, "boxes were drawn");
        assertTrue(r.err().contains("wrote " + annotated), r.err());
    }

    @Test
    void sendsJpegAndKeepsOnlyTheAskedLabels(@TempDir Path tmp) throws Exception {
        Path in = tmp.resolve("portrait.jpg");
        ImageIO.write(picture(200, 300, 11), "jpeg", in.toFile());
        Run all = run("detect", "--port", port(), "--image", in.toString(), "--threshold", "0");
        assertEquals(0, all.exit(), all.err());
        JsonValue dets = all.json().get("detections");
        assertEquals("jpeg", all.json().get("image").get("format").asText());
        assertFalse(dets.isEmpty());
        checkDetections(dets, 200, 300);
        // --label reaches the server: the kept detections all carry it, and a name the model lacks is refused.
        // (This random model's queries all pick one of COCO's repeated "N/A" labels, and a name filter keeps only
        // the first id of a repeated name, so the filter is checked with a name used once.)
        Run some = run("detect", "--port", port(), "--image", in.toString(), "--threshold", "0", "--label", "person",
                "--label", "dog");
        assertEquals(0, some.exit(), some.err());
        for (JsonValue d : some.json().get("detections")) {
            assertTrue(List.of("person", "dog").contains(d.get("label").asText()), d.toString());
        }
        Run unknown = run("detect", "--port", port(), "--image", in.toString(), "--label", "unicorn");
        assertNotEquals(0, unknown.exit());
        assertTrue(unknown.err().contains("INVALID_ARGUMENT: labels: unknown label 'unicorn'"), unknown.err());
    }

    @Test
    void aCorruptImageIsAnInvalidArgumentAndANonZeroExit(@TempDir Path tmp) throws Exception {
        Path bad = tmp.resolve("broken.png");
        byte[] bytes = new byte[64];
        new Random(3).nextBytes(bytes);
        System.arraycopy(new byte[] {(byte) 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'}, 0, bytes, 0, 8);
        Files.write(bad, bytes);
        Path out = tmp.resolve("never.png");

        Run r = run("detect", "--port", port(), "--image", bad.toString(), "--out", out.toString());

        assertNotEquals(0, r.exit());
        assertTrue(r.err().contains("INVALID_ARGUMENT"), r.err());
        assertTrue(r.err().contains("image.data"), r.err());
        assertEquals(1, r.err().trim().lines().count(), "one line: " + r.err());
        assertTrue(r.out().isBlank(), r.out());
        assertFalse(Files.exists(out));
    }

    @Test
    void noServerIsAOneLineHintToStartOne(@TempDir Path tmp) throws Exception {
        int closed;
        try (ServerSocket s = new ServerSocket(0)) {
            closed = s.getLocalPort();
        }
        Path in = tmp.resolve("x.png");
        ImageIO.write(picture(64, 64, 1), "png", in.toFile());
        Run r = run("detect", "--port", String.valueOf(closed), "--image", in.toString());
        assertNotEquals(0, r.exit());
        assertTrue(r.err().contains("UNAVAILABLE") && r.err().contains("bin/engine serve"), r.err());
        assertEquals(0, run("detect", "--help").exit());
    }

    /** Best first, named as the model names them, and boxes in pixels of the original frame. */
    private static void checkDetections(JsonValue dets, int w, int h) {
        double previous = Double.POSITIVE_INFINITY;
        List<String> seen = new ArrayList<>();
        for (JsonValue d : dets) {
            double score = d.get("score").asDouble();
            assertTrue(score <= previous, "best first: " + dets);
            assertTrue(score >= 0 && score <= 1, dets.toString());
            previous = score;
            assertEquals(labels.get(d.get("label_id").asInt()), d.get("label").asText());
            JsonValue b = d.get("box");
            double x0 = b.get("x_min").asDouble();
            double y0 = b.get("y_min").asDouble();
            double x1 = b.get("x_max").asDouble();
            double y1 = b.get("y_max").asDouble();
            // DETR boxes are (cx, cy, w, h) in [0, 1] of the frame, unclipped: the centre lies in the image and
            // the box is at most as large as the image.
            assertTrue(x0 <= x1 && y0 <= y1, b.toString());
            double cx = (x0 + x1) / 2;
            double cy = (y0 + y1) / 2;
            assertTrue(cx >= 0 && cx <= w && cy >= 0 && cy <= h, "centre inside " + w + "x" + h + ": " + b);
            assertTrue(x1 - x0 <= w + 1e-3 && y1 - y0 <= h + 1e-3, "no larger than the image: " + b);
            seen.add(d.get("label").asText());
        }
        assertFalse(seen.isEmpty());
    }

    private static int differingPixels(BufferedImage a, BufferedImage b) {
        int n = 0;
        for (int y = 0; y < a.getHeight(); y++) {
            for (int x = 0; x < a.getWidth(); x++) {
                if ((a.getRGB(x, y) & 0xffffff) != (b.getRGB(x, y) & 0xffffff)) n++;
            }
        }
        return n;
    }
}
