"""posekit.vis"""
