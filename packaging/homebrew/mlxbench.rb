# Homebrew formula: builds mlxbench from a release tarball (the tag's
# `git archive`). packaging/homebrew/bump.sh VERSION TARBALL sets url,
# version and sha256 for a release; until the first release the url names
# the repository's future home and the checksum is not filled in.
#   brew install --formula packaging/homebrew/mlxbench.rb
#   brew test mlxbench
class Mlxbench < Formula
  desc "Benchmark engine for LLM inference servers (MLX, vLLM, llama.cpp, OpenAI)"
  homepage "https://github.com/mlxbench/mlxbench"
  url "https://github.com/mlxbench/mlxbench/archive/refs/tags/v0.1.0.tar.gz"
  sha256 "0000000000000000000000000000000000000000000000000000000000000000"
  head "https://github.com/mlxbench/mlxbench.git", branch: "main"

  depends_on "cmake" => :build
  depends_on "pkgconf" => :build
  depends_on "curl"
  depends_on "libuv"
  depends_on "llhttp"
  depends_on "lua@5.4"
  depends_on "pcre2"
  depends_on "utf8proc"

  uses_from_macos "zlib"

  # lua-cjson has no formula; CMake would fetch this very release at
  # configure time, but a Homebrew build has no network: staged here.
  resource "lua-cjson" do
    url "https://github.com/openresty/lua-cjson/archive/refs/tags/2.1.0.16.tar.gz"
    sha256 "4b7e96801ee9596216d52d09cc4d21657cfd575971b6bbe9e317a698ae376a8a"
  end

  def install
    resource("lua-cjson").stage buildpath/"lua-cjson"
    system "cmake", "-S", ".", "-B", "build",
           "-DMLXBENCH_HTTP_PARSER=llhttp",
           "-DFETCHCONTENT_SOURCE_DIR_LUACJSON=#{buildpath}/lua-cjson",
           "-DFETCHCONTENT_FULLY_DISCONNECTED=ON",
           *std_cmake_args
    system "cmake", "--build", "build", "--target", "mlxbench"
    system "cmake", "--install", "build"
  end

  test do
    # two streamed requests against the embedded emulated server
    out = shell_output("#{bin}/mlxbench run --mock -m small -n 2 -o results.json")
    assert_match(/c=1 .* 2\/2 /, out)
    host = JSON.parse((testpath/"results.json").read)["host"]
    assert_equal "darwin", host["os"] if OS.mac?
    assert_match(/^Apple M/, host["chip"]) if OS.mac? && Hardware::CPU.arm?
  end
end
