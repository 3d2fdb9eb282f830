#include "corral/backend/cgroupfs_backend.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include "corral/cgroup/paths.hpp"
#include "corral/util/file_io.hpp"

namespace corral {
namespace fs = std::filesystem;
using namespace std::chrono;

// A freeze is done in about a millisecond (a 13-process Chromium, measured);
// a second means something holds a task in the kernel.
constexpr milliseconds kFreezeWait = seconds(2);

namespace {

std::string wanted_controllers(const Controllers& available) {
  std::string request;
  if (available.memory) request += "+memory ";
  if (available.cpu) request += "+cpu ";
  if (available.tasks) request += "+pids ";
  return request;
}

// cgroup v2's "no internal processes" rule: a cgroup that hands controllers to
// its children may hold no process itself. When the daemon sits in the parent
// it moves into a leaf of its own, as container inits do.
Result<void> move_self_into_leaf(const fs::path& parent) {
  fs::path leaf = parent / "corrald";
  if (::mkdir(leaf.c_str(), 0755) < 0 && errno != EEXIST) return Error::from_errno(errno, "mkdir '" + leaf.string() + "'");
  return Cgroup(leaf).add_process(::getpid());
}

Result<void> enable_controllers(const fs::path& cgroup) {
  auto available = read_file(cgroup / "cgroup.controllers");
  if (!available) return available.error();
  auto request = wanted_controllers(Controllers::parse(*available));
  if (request.empty()) return success();
  request.pop_back();
  auto written = write_control_file(cgroup / "cgroup.subtree_control", request);
  if (written || written.error().code != EBUSY) return written;
  CORRAL_TRY(move_self_into_leaf(cgroup));
  return write_control_file(cgroup / "cgroup.subtree_control", request);
}

Result<void> make_directories(const fs::path& root) {
  std::error_code ec;
  fs::create_directories(root, ec);
  if (ec) return Error::from_errno(ec.value(), "create cgroup '" + root.string() + "'");
  return success();
}

}  // namespace

Result<fs::path> CgroupfsBackend::default_root() {
  auto mount = cgroup2_mount();
  if (!mount) return mount.error();
  auto own = cgroup_of_process(::getpid());
  if (!own) return own.error();
  fs::path root = *mount;
  root += *own;
  return root / "corral";
}

// Controllers are enabled from the shared root's parent down to this
// instance's root: an instance may be the first corrald to start there.
Result<std::unique_ptr<CgroupfsBackend>> CgroupfsBackend::open(const fs::path& shared_root, InstanceNaming naming) {
  if (::access(shared_root.parent_path().c_str(), W_OK) < 0 && !fs::exists(shared_root))
    return Error::from_errno(errno, "cgroup '" + shared_root.parent_path().string() +
                                        "' is not writable (not delegated to us)");
  fs::path root = naming.sessions_root(shared_root);
  CORRAL_TRY(make_directories(root));
  CORRAL_TRY(enable_controllers(shared_root.parent_path()));
  CORRAL_TRY(enable_controllers(shared_root));
  if (root != shared_root) CORRAL_TRY(enable_controllers(root));
  auto enabled = read_file(root / "cgroup.subtree_control");
  if (!enabled) return enabled.error();
  bool own_root = root != shared_root;
  std::unique_ptr<CgroupfsBackend> backend(
      new CgroupfsBackend(std::move(naming), root, Controllers::parse(*enabled), own_root));
  CORRAL_TRY(backend->claim_sessions_root(root));
  return backend;
}

// While the root's lock is still held (the base class lets go of it
// after this), so no other corrald of this instance is using it. A root
// that still holds a session's cgroup (a close that failed) stays.
CgroupfsBackend::~CgroupfsBackend() {
  if (m_root_is_own) (void)::rmdir(m_root.path().c_str());
}

Result<Scope> CgroupfsBackend::create(const ScopeSpec& spec) {
  fs::path path = m_root.path() / spec.name;
  if (::mkdir(path.c_str(), 0755) < 0) return Error::from_errno(errno, "mkdir '" + path.string() + "'");
  Cgroup cgroup(path);
  auto placed = cgroup.apply_limits(spec.limits);
  if (placed) placed = cgroup.add_process(spec.pid);
  if (!placed) {
    (void)cgroup.remove();
    return placed.error();
  }
  return Scope{spec.name, "", path};
}

Result<void> CgroupfsBackend::freeze(const Scope& scope) { return Cgroup(scope.cgroup).set_frozen(true, kFreezeWait); }

Result<void> CgroupfsBackend::thaw(const Scope& scope) { return Cgroup(scope.cgroup).set_frozen(false, kFreezeWait); }

// The same writes create() makes: the files of the controllers that exist.
Result<void> CgroupfsBackend::set_limits(const Scope& scope, const Limits& limits) {
  return Cgroup(scope.cgroup).apply_limits(limits);
}

Result<void> CgroupfsBackend::destroy(const Scope& scope) { return Cgroup(scope.cgroup).remove(); }

// Only what sits directly in this instance's root and has one of its scope
// names: the default instance's root also holds every other instance's
// corral-X.slice, and those are not ours to reap.
Result<std::vector<Scope>> CgroupfsBackend::find_leftovers() {
  std::vector<Scope> scopes;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(m_root.path(), ec)) {
    auto name = entry.path().filename().string();
    if (entry.is_directory(ec) && naming().session_id(name)) scopes.push_back(Scope{name, "", entry.path()});
  }
  if (ec) return Error::from_errno(ec.value(), "list '" + m_root.path().string() + "'");
  return scopes;
}

}  // namespace corral
