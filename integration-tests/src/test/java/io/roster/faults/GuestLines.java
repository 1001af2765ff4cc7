package io.roster.faults;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.awaitility.Awaitility;

/**
 * The lines a guest process of {@link NetCluster} prints as {@code @<wall-clock millis> <WORD> <rest>}
 * ({@link FencedHolder}), read as they come.
 */
final class GuestLines {
  record Line(long atMillis, String word, String rest) {}

  private final List<Line> lines = new CopyOnWriteArrayList<>();
  private final Process process;

  GuestLines(Process process) {
    this.process = process;
    Thread reader = new Thread(this::read, "guest-lines-" + process.pid());
    reader.setDaemon(true);
    reader.start();
  }

  private void read() {
    try (BufferedReader in = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8))) {
      for (String l = in.readLine(); l != null; l = in.readLine()) {
        if (l.startsWith("@")) {
          String[] parts = l.substring(1).split(" ", 3);
          lines.add(new Line(Long.parseLong(parts[0]), parts[1], parts.length > 2 ? parts[2] : ""));
        }
      }
    } catch (IOException | RuntimeException e) {
      // the process ended
    }
  }

  /** The first line saying {@code word}, waiting for it up to {@code timeout}. */
  Line await(String word, Duration timeout) {
    Awaitility.await(word + " from the guest (it said " + lines + ")").atMost(timeout)
        .pollInterval(Duration.ofMillis(20)).until(() -> find(word) != null);
    return find(word);
  }

  Line find(String word) {
    return lines.stream().filter(l -> l.word().equals(word)).findFirst().orElse(null);
  }
}
