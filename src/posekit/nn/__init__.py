"""posekit.nn"""
