package dev.tessera.gateway;

import static dev.tessera.gateway.GatewayTestSupport.eventually;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tessera.api.v1.FinishReason;
import dev.tessera.api.v1.SessionResponse;
import dev.tessera.builtin.BuiltinModels;
import dev.tessera.engine.detect.DetrOptions;
import dev.tessera.scheduler.Scheduler;
import dev.tessera.scheduler.detect.DetectConfig;
import io.vertx.core.Vertx;
import java.awt.Color;
import java.awt.Graphics2D;
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The detection messages the browser page reads and writes, pinned on the wire: a detection stream over the
 * WebSocket bridge through the real serving core with {@code builtin:detr-tiny}. Frames go in exactly as the page
 * sends them (a {@code request_id} whose {@code detect} messages are JPEG frames, base64 in the JSON mapping);
 * answers come back as {@code detections} with the frame id, the boxes, timings and {@code skippedFrames} when frames
 * were skipped; a bad frame ends its stream with an error naming {@code image.data} and the socket goes on; a cancel
 * ends a stream with {@code finished} CANCELLED.
 */
@Timeout(180)
class GatewayDetectWebSocketTest {
    @TempDir
    static Path cache;
    private static TesseraServer server;
    private static Vertx client;
    private static String small;
    private static String large;

    @BeforeAll
    static void start() throws Exception {
        DetrOptions engine = DetrOptions.defaults(BuiltinModels.materialize("detr-tiny", cache)).withName("detr-tiny")
                .withCacheDir(cache).withThreads(2);
        server = TesseraServer.start(GatewayTestSupport.loopback(),
                List.of(new ModelSpec.Detector(engine, DetectConfig.defaults())), Scheduler.builder());
        client = Vertx.vertx();
        small = jpegBase64(320, 240, 1);
        large = jpegBase64(1280, 960, 2); // slow enough to decode that frames sent in a burst overtake it
    }

    @AfterAll
    static void stop() throws Exception {
        if (client != null) client.close().toCompletionStage().toCompletableFuture().get(30, TimeUnit.SECONDS);
        if (server != null) server.close();
    }

    private static String jpegBase64(int w, int h, long seed) throws Exception {
        BufferedImage img = new BufferedImage(w, h, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = img.createGraphics();
        Random rnd = new Random(seed);
        for (int i = 0; i < 40; i++) {
            g.setColor(new Color(rnd.nextInt(1 << 24)));
            g.fillRect(rnd.nextInt(w), rnd.nextInt(h), 10 + rnd.nextInt(w / 3), 10 + rnd.nextInt(h / 3));
        }
        g.dispose();
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        ImageIO.write(img, "jpeg", bytes);
        return Base64.getEncoder().encodeToString(bytes.toByteArray());
    }

    /** A frame in the page's own words. */
    private static String frame(String id, long frameId, String base64) {
        return "{\"requestId\":\"" + id + "\",\"detect\":{\"frameId\":" + frameId + ",\"image\":{\"data\":\""
                + base64 + "\",\"format\":\"IMAGE_FORMAT_JPEG\"},\"threshold\":0,\"maxDetections\":5}}";
    }

    private static List<SessionResponse> answers(WebSocketTestClient ws, String id) {
        List<SessionResponse> out = new ArrayList<>();
        for (SessionResponse r : ws.responses(id)) {
            if (r.hasDetections()) out.add(r);
        }
        return out;
    }

    private static boolean answered(WebSocketTestClient ws, String id, long frameId) {
        for (SessionResponse r : answers(ws, id)) {
            if (r.getDetections().getFrameId() == frameId) return true;
        }
        return false;
    }

    private static List<String> texts(WebSocketTestClient ws, String id, String kind) {
        List<String> out = new ArrayList<>();
        for (String t : ws.texts()) {
            if (t.startsWith("{\"requestId\":\"" + id + "\",\"" + kind + "\":")) out.add(t);
        }
        return out;
    }

    @Test
    void framesInDetectionsOutInTheFormThePageReads() throws Exception {
        try (WebSocketTestClient ws = WebSocketTestClient.connect(client, server.gateway())) {
            ws.sendText(frame("cam", 1, small));
            eventually("frame 1 answered", () -> answered(ws, "cam", 1));

            String first = texts(ws, "cam", "detections").get(0);
            // lowerCamelCase names, the 64-bit frame id as a string, boxes in pixels, timings
            assertTrue(first.startsWith("{\"requestId\":\"cam\",\"detections\":{\"frameId\":\"1\",\"detections\":[{"
                    + "\"label\":\""), first);
            for (String part : new String[] {"\"labelId\":", "\"score\":", "\"box\":{\"xMin\":", "\"yMin\":",
                    "\"xMax\":", "\"yMax\":", "\"timings\":{\"queueMs\":", "\"e2eMs\":"}) {
                assertTrue(first.contains(part), part + " in " + first);
            }
            assertFalse(first.contains("skippedFrames"), "zero is left out, as the JSON mapping says: " + first);
            SessionResponse a = answers(ws, "cam").get(0);
            assertEquals(5, a.getDetections().getDetectionsCount(), "threshold 0 keeps every query, up to 5");
            for (var d : a.getDetections().getDetectionsList()) {
                float cx = (d.getBox().getXMin() + d.getBox().getXMax()) / 2;
                float cy = (d.getBox().getYMin() + d.getBox().getYMax()) / 2;
                assertTrue(cx >= 0 && cx <= 320 && cy >= 0 && cy <= 240, "pixels of the 320x240 frame: " + d);
            }

            // Frames sent faster than they are served: the newest wins, and the answers count the skipped ones.
            // Bursts of large frames until a skip is reported (the first burst does it; the bound only guards).
            long sent = 1;
            boolean skippedSeen = false;
            for (int burst = 0; burst < 10 && !skippedSeen; burst++) {
                for (int i = 0; i < 24; i++) ws.sendText(frame("cam", ++sent, large));
                long last = sent;
                eventually("the newest frame " + last + " answered", () -> answered(ws, "cam", last));
                skippedSeen = answers(ws, "cam").stream().anyMatch(r -> r.getDetections().getSkippedFrames() > 0);
            }
            assertTrue(skippedSeen, "a burst of frames skipped some");
            List<SessionResponse> all = answers(ws, "cam");
            long skipped = 0;
            long previous = 0;
            for (SessionResponse r : all) {
                assertTrue(r.getDetections().getFrameId() > previous, "answers in frame order");
                previous = r.getDetections().getFrameId();
                skipped += r.getDetections().getSkippedFrames();
            }
            assertEquals(sent, all.size() + skipped, "every frame answered or counted as skipped");
            assertTrue(all.size() < sent);
            assertTrue(texts(ws, "cam", "detections").stream().anyMatch(t -> t.matches(
                    ".*,\"skippedFrames\":[1-9][0-9]*}}$")), "skippedFrames is on the wire when > 0");

            // A cancel ends the stream: finished CANCELLED.
            ws.sendText("{\"requestId\":\"cam\",\"cancel\":{}}");
            SessionResponse end = ws.awaitEnd("cam");
            assertEquals(FinishReason.FINISH_REASON_CANCELLED, end.getFinished().getReason());
            assertTrue(texts(ws, "cam", "finished").get(0).contains("\"reason\":\"FINISH_REASON_CANCELLED\""));
            assertTrue(ws.unparsable().isEmpty(), ws.unparsable().toString());
        }
    }

    @Test
    void aBadFrameEndsOnlyItsStreamNamingTheFieldAndTheSocketGoesOn() throws Exception {
        try (WebSocketTestClient ws = WebSocketTestClient.connect(client, server.gateway())) {
            ws.sendText(frame("good", 1, small));
            eventually("the good stream answers", () -> answered(ws, "good", 1));

            ws.sendText(frame("bad", 1, Base64.getEncoder().encodeToString("not a picture".getBytes())));
            SessionResponse error = ws.awaitEnd("bad");
            assertEquals(3, error.getError().getCode(), "INVALID_ARGUMENT: " + error);
            assertEquals("image.data", error.getError().getField());
            String wire = texts(ws, "bad", "error").get(0);
            assertTrue(wire.contains("\"field\":\"image.data\"") && wire.contains("\"code\":3"), wire);

            ws.sendText(frame("good", 2, small));
            eventually("the other stream goes on", () -> answered(ws, "good", 2));
            ws.sendText(frame("bad", 2, small)); // the id is free again: a new stream
            eventually("a new stream on the same socket", () -> answered(ws, "bad", 2));
            assertFalse(ws.isClosed());
            ws.sendText("{\"requestId\":\"good\",\"cancel\":{}}");
            ws.sendText("{\"requestId\":\"bad\",\"cancel\":{}}");
            ws.awaitEnd("good");
            ws.awaitEnd("bad");
        }
    }

    @Test
    void thePageCarriesTheDetectPanel() throws Exception {
        HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
        HttpResponse<String> page = http.send(java.net.http.HttpRequest.newBuilder(
                URI.create("http://127.0.0.1:" + server.gateway().port() + "/")).build(),
                HttpResponse.BodyHandlers.ofString());
        assertEquals(200, page.statusCode());
        for (String part : new String[] {"id=\"detCanvas\"", "id=\"detCount\"", "IMAGE_FORMAT_JPEG",
                "skippedFrames", "getUserMedia"}) {
            assertTrue(page.body().contains(part), part);
        }
    }
}
