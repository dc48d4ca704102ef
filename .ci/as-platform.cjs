// Preloaded into npm by .ci/check-platforms: npm decides whether a package that is not optional
// fits the machine from process.platform and process.arch alone (its --os and --cpu flags only
// steer optional packages), so the check makes npm see the platform it checks for.
const [os, cpu] = (process.env.UPKIT_AS_PLATFORM ?? '').split('-');
if (os) Object.defineProperty(process, 'platform', { value: os });
if (cpu) Object.defineProperty(process, 'arch', { value: cpu });
