import XCTest
import BorderlineHost
final class HostTests: XCTestCase { func testNothing() {} }
