package io.roster.bench;

import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import javax.imageio.ImageIO;

/** A PNG of throughput and p99 latency against in-flight operations, one line per system and operation. */
final class Chart {
  private static final Color[] COLORS = {new Color(0x1f77b4), new Color(0xff7f0e), new Color(0x2ca02c),
      new Color(0xd62728), new Color(0x9467bd), new Color(0x8c564b)};

  private Chart() {}

  static void write(List<Load.Point> points, Path file, String title) throws Exception {
    int width = 1200;
    int height = 560;
    BufferedImage image = new BufferedImage(width, height, BufferedImage.TYPE_INT_RGB);
    Graphics2D g = image.createGraphics();
    g.setRenderingHint(RenderingHints.KEY_ANTIALIASING, RenderingHints.VALUE_ANTIALIAS_ON);
    g.setColor(Color.WHITE);
    g.fillRect(0, 0, width, height);
    g.setColor(Color.BLACK);
    g.setFont(new Font(Font.SANS_SERIF, Font.BOLD, 15));
    g.drawString(title, 20, 24);
    Map<String, List<Load.Point>> series = new LinkedHashMap<>();
    for (Load.Point p : points) {
      series.computeIfAbsent(p.system() + " " + p.workload(), k -> new java.util.ArrayList<>()).add(p);
    }
    panel(g, series, 60, 60, 500, 400, "throughput (ops/s, log)", true);
    panel(g, series, 660, 60, 500, 400, "p99 latency (ms, log)", false);
    int y = 500;
    int x = 60;
    g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 13));
    int i = 0;
    for (String name : series.keySet()) {
      g.setColor(COLORS[i++ % COLORS.length]);
      g.fillRect(x, y - 10, 14, 10);
      g.setColor(Color.BLACK);
      g.drawString(name, x + 20, y);
      x += 240;
      if (x > width - 180) {
        x = 60;
        y += 20;
      }
    }
    g.dispose();
    Files.createDirectories(file.toAbsolutePath().getParent());
    ImageIO.write(image, "png", file.toFile());
  }

  private static void panel(Graphics2D g, Map<String, List<Load.Point>> series, int x0, int y0, int w, int h,
      String label, boolean throughput) {
    TreeSet<Integer> xs = new TreeSet<>();
    double min = Double.MAX_VALUE;
    double max = 0;
    for (List<Load.Point> s : series.values()) {
      for (Load.Point p : s) {
        xs.add(p.inFlight());
        double v = Math.max(1e-3, throughput ? p.opsPerSecond() : p.p99Millis());
        min = Math.min(min, v);
        max = Math.max(max, v);
      }
    }
    double lo = Math.floor(Math.log10(min));
    double hi = Math.ceil(Math.log10(max));
    if (hi <= lo) {
      hi = lo + 1;
    }
    g.setColor(Color.BLACK);
    g.drawRect(x0, y0, w, h);
    g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 12));
    g.drawString(label + " vs in-flight", x0, y0 - 8);
    for (double d = lo; d <= hi; d++) {
      int y = (int) (y0 + h - (d - lo) / (hi - lo) * h);
      g.setColor(new Color(0xdddddd));
      g.drawLine(x0, y, x0 + w, y);
      g.setColor(Color.BLACK);
      g.drawString(String.format("%.0e", Math.pow(10, d)), x0 - 50, y + 4);
    }
    List<Integer> xl = List.copyOf(xs);
    for (int i = 0; i < xl.size(); i++) {
      int x = xl.size() == 1 ? x0 + w / 2 : x0 + i * w / (xl.size() - 1);
      g.drawString(String.valueOf(xl.get(i)), x - 6, y0 + h + 16);
    }
    int c = 0;
    for (List<Load.Point> s : series.values()) {
      g.setColor(COLORS[c++ % COLORS.length]);
      g.setStroke(new BasicStroke(2.5f));
      int px = -1;
      int py = -1;
      for (Load.Point p : s) {
        int i = xl.indexOf(p.inFlight());
        int x = xl.size() == 1 ? x0 + w / 2 : x0 + i * w / (xl.size() - 1);
        double v = Math.log10(Math.max(1e-3, throughput ? p.opsPerSecond() : p.p99Millis()));
        int y = (int) (y0 + h - (v - lo) / (hi - lo) * h);
        g.fillOval(x - 4, y - 4, 8, 8);
        if (px >= 0) {
          g.drawLine(px, py, x, y);
        }
        px = x;
        py = y;
      }
    }
    g.setStroke(new BasicStroke(1f));
  }
}
